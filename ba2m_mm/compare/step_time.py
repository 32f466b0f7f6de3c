"""Training-step time of two configs side by side, in one process (ratios, not seconds)."""
import statistics
import time
from typing import Dict

import torch
from mmengine.config import Config

from .classifier import build_classifier, sgd_step, train_batches


def step_time_ratio(cfg: Config,
                    reference: Config,
                    steps: int = 10,
                    warmup: int = 2,
                    seed: int = 0) -> Dict:
    """Median training-step time (forward, backward, SGD update) of ``cfg`` and
    ``reference`` on the same batches, the two models' steps interleaved so that a
    change of machine load hits both alike. A config with ``ChannelsLastHook``
    is timed in channels_last, as it trains.

    Returns:
        dict: ``time``, ``reference_time`` (median s per step), ``ratio`` and
        ``steps``.
    """
    models = [build_classifier(c, seed) for c in (cfg, reference)]
    for model, c in zip(models, (cfg, reference)):  # as ChannelsLastHook does in training
        if any(h.get('type') == 'ChannelsLastHook' for h in c.get('custom_hooks') or []):
            model.to(memory_format=torch.channels_last)
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in models]
    batches = train_batches(cfg, seed=seed)
    times = ([], [])
    for step in range(warmup + steps):
        data_batch = next(batches)
        for i, (model, optimizer) in enumerate(zip(models, optimizers)):
            start = time.perf_counter()
            sgd_step(model, optimizer, data_batch)
            if step >= warmup:
                times[i].append(time.perf_counter() - start)
    median = [statistics.median(t) for t in times]
    return dict(time=median[0], reference_time=median[1], ratio=median[0] / median[1], steps=steps)
