"""Training-step time of two configs side by side, in one process (ratios, not seconds)."""
import statistics
import time
from typing import Dict

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner


def _build(cfg: Config, seed: int):
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor', None))
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.train()


def step_time_ratio(cfg: Config,
                    reference: Config,
                    steps: int = 10,
                    warmup: int = 2,
                    seed: int = 0) -> Dict:
    """Median training-step time (forward, backward, SGD update) of ``cfg`` and
    ``reference`` on the same batches, the two models' steps interleaved so that a
    change of machine load hits both alike.

    Returns:
        dict: ``time``, ``reference_time`` (median s per step), ``ratio`` and
        ``steps``.
    """
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    models = [_build(c, seed) for c in (cfg, reference)]
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in models]
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.num_workers = 0
    loader_cfg.pop('persistent_workers', None)
    batches = iter(Runner.build_dataloader(loader_cfg, seed=seed))
    times = ([], [])
    for step in range(warmup + steps):
        data_batch = next(batches)
        for i, (model, optimizer) in enumerate(zip(models, optimizers)):
            start = time.perf_counter()
            data = model.data_preprocessor(data_batch, True)
            loss = sum(v for k, v in model(**data, mode='loss').items() if 'loss' in k)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step >= warmup:
                times[i].append(time.perf_counter() - start)
    median = [statistics.median(t) for t in times]
    return dict(time=median[0], reference_time=median[1], ratio=median[0] / median[1], steps=steps)
