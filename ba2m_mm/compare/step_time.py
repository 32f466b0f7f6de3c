"""Training-step time of two configs side by side, in one process (ratios, not seconds).

The timing is :func:`ba2m_mm.analysis.step_timing.interleaved_times`, the step
timer of the benchmark too; this module builds the two configs' models and
feeds them the same batches.
"""
import statistics
from typing import Dict

import torch
from mmengine.config import Config

from ..analysis.step_timing import interleaved_times
from .classifier import build_classifier, sgd_step, train_batches


def uses_channels_last(cfg: Config) -> bool:
    """Whether ``cfg`` trains in channels_last (it has ``ChannelsLastHook``)."""
    return any(h.get('type') == 'ChannelsLastHook' for h in cfg.get('custom_hooks') or [])


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
        if uses_channels_last(c):
            model.to(memory_format=torch.channels_last)
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in models]
    batches = train_batches(cfg, seed=seed)
    batch = [None]

    def next_batch():
        batch[0] = next(batches)

    def stepper(model, optimizer):
        return lambda: sgd_step(model, optimizer, batch[0])

    arms = [(stepper(m, o), ) for m, o in zip(models, optimizers)]
    # One step per round, each round on the next batch; the warm-up rounds are not timed.
    times = interleaved_times(arms, steps, warmup_rounds=warmup, before_round=next_batch)
    median = [statistics.median(t[0]) for t in times]
    return dict(time=median[0], reference_time=median[1], ratio=median[0] / median[1], steps=steps)
