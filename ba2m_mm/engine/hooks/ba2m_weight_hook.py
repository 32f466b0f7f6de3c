"""Hook that logs the batch weights of every BA2M module during training."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ba2m_mm.models.layers import BA2M

# Statistics logged per BA2M module, in this order (plus one ``share_<branch>`` per branch).
WEIGHT_STATS = ('w_min', 'w_max', 'w_std', 'log_w_std', 'entropy', 'entropy_norm')


def ba2m_weight_stats(weights: torch.Tensor,
                      branch_share: Optional[torch.Tensor] = None,
                      branches: Sequence[str] = ()) -> Dict[str, float]:
    """Statistics of one batch of BA2M weights (paper Eq. 11).

    The entropy is that of the weights normalised to sum to one,
    ``p = w / sum(w)``, so it is the same for ``'softmax'`` and
    ``'scaled_softmax'`` weights: ``H = -sum_i p_i log p_i``. Its normalised
    form ``H / log N`` is 1 for uniform weights (BA2M then only rescales the
    batch) and tends to 0 when one sample takes all the weight.

    Args:
        weights (Tensor): Batch weights ``last_weights`` of one BA2M, (N,).
        branch_share (Tensor, optional): ``last_branch_share`` of that BA2M,
            (num branches,). Defaults to None (no share statistics).
        branches (Sequence[str]): Branch names, in the order of
            ``branch_share``. Defaults to ().

    Returns:
        dict[str, float]: ``w_min``, ``w_max``, ``w_std`` (population standard
        deviation), ``log_w_std`` (that of log w, i.e. of the SARs: the
        spread the random control :class:`RandomBA2M` is matched to),
        ``entropy``, ``entropy_norm`` (NaN for N = 1) and ``share_<branch>``
        for each branch.
    """
    w = weights.detach().float().flatten()  # (N,)
    p = w / w.sum()  # (N,)
    entropy = float(-(p * torch.log(p.clamp_min(1e-30))).sum())
    stats = {
        'w_min': float(w.min()),
        'w_max': float(w.max()),
        'w_std': float(w.std(correction=0)),
        'log_w_std': float(torch.log(w.clamp_min(1e-30)).std(correction=0)),
        'entropy': entropy,
        'entropy_norm': entropy / math.log(w.numel()) if w.numel() > 1 else float('nan'),
    }
    if branch_share is not None:
        for branch, share in zip(branches, branch_share.detach().float().cpu().tolist()):
            stats[f'share_{branch}'] = share
    return stats


@HOOKS.register_module()
class BA2MWeightHook(Hook):
    """Log the batch weights of every BA2M module every ``interval`` iterations.

    For each BA2M of the model (found by type, whatever its position,
    ``'between'`` or ``'inside'`` the residual blocks), the hook reads the
    weights of the last training batch (``last_weights``) and the share of
    the channel-wise max won by each branch (``last_branch_share``) and sends
    :func:`ba2m_weight_stats` to

    - the visualizer backends, at step ``iter + 1`` (the step LoggerHook
      uses), with keys ``ba2m/<name>/<stat>``, e.g. ``ba2m/layer2/w_std`` or
      ``ba2m/layer2/share_local``; with the default ``LocalVisBackend`` they
      land in ``<work_dir>/<timestamp>/vis_data/scalars.json``, which
      ``tools/analysis/plot_ba2m_weights.py`` plots;
    - the runner's logger, one line per BA2M.

    It also runs :meth:`BA2M.check_finite` at each logged iteration, which
    raises the BA2M's clear error for non-finite SARs under ``torch.compile``
    too (BA2M's own periodic check does not run inside a compiled graph).

    ``<name>`` is the module's ``name`` (``'layer2'``, ``'layer2.0'``) or, when
    unnamed, its path in the model. A BA2M that did not run in training mode
    in the logged iteration (frozen stage, batch of one sample) is skipped,
    and the log says so once per module.

    Enable it in a config with::

        custom_hooks = [dict(type='BA2MWeightHook', interval=50)]

    Args:
        interval (int): Log every ``interval`` training iterations.
            Defaults to 50.
        log_text (bool): Also write one line per BA2M to the text log.
            Defaults to True.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL) in after_train_iter

    def __init__(self, interval: int = 50, log_text: bool = True):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'BA2MWeightHook: interval must be an int >= 1, got {interval!r}')
        self.interval = interval
        self.log_text = log_text
        self._modules: List[Tuple[str, BA2M]] = []
        self._previous: Dict[str, Optional[torch.Tensor]] = {}
        self._reported_idle = set()

    @staticmethod
    def find_ba2m_modules(model: nn.Module) -> List[Tuple[str, BA2M]]:
        """``(name, module)`` of every BA2M in ``model`` (DDP is unwrapped)."""
        if is_model_wrapper(model):
            model = model.module
        return [(m.name or path, m) for path, m in model.named_modules() if isinstance(m, BA2M)]

    def before_train(self, runner) -> None:
        self._modules = self.find_ba2m_modules(runner.model)
        if not self._modules:
            runner.logger.warning('BA2MWeightHook: the model has no BA2M module; nothing will be '
                                  'logged. Remove the hook or use a BA2M backbone.')
        else:
            names = ', '.join(name for name, _ in self._modules)
            runner.logger.info(f'BA2MWeightHook: logging the batch weights of {len(self._modules)} '
                               f'BA2M module(s) every {self.interval} iterations: {names}')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        # Remember the weight tensors of the previous forward, to tell whether
        # each BA2M ran in training mode during this iteration.
        if self.every_n_train_iters(runner, self.interval):
            self._previous = {name: m.last_weights for name, m in self._modules}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._modules or not self.every_n_train_iters(runner, self.interval):
            return
        step = runner.iter + 1
        scalars = {}
        for name, module in self._modules:
            weights = module.last_weights
            if weights is None or weights is self._previous.get(name):
                if name not in self._reported_idle:
                    self._reported_idle.add(name)
                    runner.logger.info(
                        f'BA2MWeightHook: BA2M {name!r} did not weight a training batch in '
                        f'iteration {step} (frozen stage, eval mode or a batch of one sample); '
                        'it is skipped while that lasts.')
                continue
            module.check_finite()  # also when the model is compiled (BA2M then skips it)
            stats = ba2m_weight_stats(weights, module.last_branch_share, module.branches)
            scalars.update({f'ba2m/{name}/{key}': value for key, value in stats.items()})
            if self.log_text:
                shares = ' '.join(f'{b} {stats[f"share_{b}"]:.2f}' for b in module.branches
                                  if f'share_{b}' in stats)
                runner.logger.info(
                    f'BA2M {name} iter {step}: N={weights.numel()} w min {stats["w_min"]:.4g} '
                    f'max {stats["w_max"]:.4g} std {stats["w_std"]:.4g} entropy '
                    f'{stats["entropy"]:.4f} (normalised {stats["entropy_norm"]:.4f}) | '
                    f'max won by: {shares}')
        if scalars:
            runner.visualizer.add_scalars(scalars, step=step)
        self._previous = {}


__all__ = ['BA2MWeightHook', 'WEIGHT_STATS', 'ba2m_weight_stats']
