"""An mmpretrain classifier and its training batches outside the Runner, for the
first-steps check, the SAR-spread measurement and the side-by-side step timing."""
import copy
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, set_random_seed


def build_classifier(cfg: Config, seed: int = 0) -> torch.nn.Module:
    """The config's model (with its data preprocessor), seeded (torch, numpy,
    random), initialised and in training mode."""
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    set_random_seed(seed)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor', None))
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.train()


def train_batches(cfg: Config, batch_size: Optional[int] = None, seed: int = 0):
    """An iterator over the config's training batches, in this process (no
    workers), in the order the seed gives; ``batch_size`` overrides the config's."""
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    if batch_size is not None:
        loader_cfg.batch_size = batch_size
    loader_cfg.num_workers = 0
    loader_cfg.pop('persistent_workers', None)
    return iter(Runner.build_dataloader(loader_cfg, seed=seed))


def sgd_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data_batch) -> torch.Tensor:
    """One training step on ``data_batch``: preprocess, loss (summed as the Runner's
    ``parse_losses`` does, so detectors' per-level losses count too), backward, update.
    Returns the loss."""
    data = model.data_preprocessor(data_batch, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss
