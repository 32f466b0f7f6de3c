"""Train and evaluate one arm of a comparison with mmengine's Runner."""
import itertools
import json
import os.path as osp
import statistics
import time
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from ..visualization.scalars import read_ba2m_scalars

# Added to every BA2M arm: the batch weights of every training iteration go to
# <log_dir>/vis_data/scalars.json (keys ba2m/<stage>/w_std, ...).
WEIGHT_HOOK = dict(type='BA2MWeightHook', interval=1, log_text=False)
EVALUATIONS = ('val', 'test')
_RUN_IDS = itertools.count()


def has_ba2m(cfg: Config) -> bool:
    """Whether the config's backbone is a BA2M backbone (``BA2M*`` type)."""
    backbone = cfg.get('model', {}).get('backbone', {})
    return str(backbone.get('type', '')).split('.')[-1].startswith('BA2M')


def add_weight_hook(cfg: Config) -> bool:
    """Add :data:`WEIGHT_HOOK` to a config with a BA2M backbone, unless it has
    one. Returns whether the config has the hook now."""
    if not has_ba2m(cfg):
        return False
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') == WEIGHT_HOOK['type'] for h in hooks):
        hooks.append(dict(WEIGHT_HOOK))
    cfg.custom_hooks = hooks
    return True


def read_step_times(log_dir: str) -> List[float]:
    """Training ``time`` per iteration that LoggerHook logged in ``log_dir``
    (seconds, smoothed over its logging window)."""
    path = osp.join(log_dir, 'vis_data', 'scalars.json')
    if not osp.isfile(path):
        return []
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [float(r['time']) for r in rows if 'time' in r and 'loss' in r]


def weight_spread(log_dir: str, tail: float = 0.1) -> Dict:
    """Per BA2M module, from the ``BA2MWeightHook`` scalars in ``log_dir``
    (:func:`~ba2m_mm.visualization.scalars.read_ba2m_scalars`): ``w_std``
    (mean over training), ``w_std_first`` (first logged iteration),
    ``w_std_last`` (mean over the last ``tail`` of the iterations),
    ``log_w_std_last`` (the same for the std of the log-weights, i.e. of the
    SARs), ``w_max`` (largest weight seen) and ``logged``; empty without scalars (plain arm)."""
    path = osp.join(log_dir, 'vis_data', 'scalars.json')
    series = read_ba2m_scalars(path) if osp.isfile(path) else {}
    out = {}
    for stage, stats in sorted(series.items()):
        w_std = [v for _, v in stats.get('w_std', [])]
        if not w_std:
            continue
        tail_len = max(1, round(tail * len(w_std)))
        log_w_std = [v for _, v in stats.get('log_w_std', [])] or [float('nan')]
        out[stage] = dict(
            w_std=statistics.fmean(w_std),
            w_std_first=w_std[0],
            w_std_last=statistics.fmean(w_std[-tail_len:]),
            log_w_std_last=statistics.fmean(log_w_std[-tail_len:]),
            w_max=max([v for _, v in stats.get('w_max', [])] or [float('nan')]),
            logged=len(w_std))
    return out


def run_config(cfg: Config, evaluate: str = 'val') -> Dict:
    """Train ``cfg`` and evaluate it once, after training.

    Args:
        cfg (Config): A complete config (work_dir and randomness set).
        evaluate (str): ``'val'`` (the val loop: choices are made there) or
            ``'test'`` (the test loop: the final comparison). Defaults to
            ``'val'``.

    Returns:
        dict: ``metrics``, ``train_time``, ``eval_time``, ``iters``,
        ``step_time`` (mean of LoggerHook's per-iteration ``time``, s; train
        time / iterations without it), ``threads``,
        ``weight_spread`` (:func:`weight_spread`) and ``log_dir``.
    """
    if evaluate not in EVALUATIONS:
        raise ValueError(f'evaluate must be one of {EVALUATIONS}, got {evaluate!r}')
    cfg = cfg.copy()
    add_weight_hook(cfg)
    if cfg.get('train_cfg') and cfg.get('val_dataloader'):
        cfg.train_cfg.val_begin = 10**9  # evaluated once, below, not also inside train()
    # default runtimes name their visualizer, and mmengine returns an existing instance of
    # that name: without a name of its own, later runs would log into the first run's dir.
    cfg.visualizer.name = f'compare_visualizer_{next(_RUN_IDS)}_{osp.abspath(cfg.work_dir)}'
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_time = time.perf_counter() - start
    start = time.perf_counter()
    metrics = runner.val() if evaluate == 'val' else runner.test()
    eval_time = time.perf_counter() - start
    step_times = read_step_times(runner.log_dir)
    return dict(
        metrics={
            k: float(v)
            for k, v in metrics.items()
        },
        train_time=train_time,
        eval_time=eval_time,
        iters=runner.iter,
        step_time=statistics.fmean(step_times) if step_times else train_time / max(1, runner.iter),
        threads=torch.get_num_threads(),
        weight_spread=weight_spread(runner.log_dir),
        log_dir=runner.log_dir)
