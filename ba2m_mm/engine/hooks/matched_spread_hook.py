"""Hook that gives the random control, at every step, the spread BA2M had at that step."""
import os.path as osp
from bisect import bisect_right
from typing import Dict, List, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ba2m_mm.models.layers import RandomBA2M


@HOOKS.register_module()
class MatchedSpreadHook(Hook):
    """Set the ``sigma`` of every :class:`RandomBA2M` before each training
    step to the spread of BA2M's SARs (``log_w_std``, the std of its
    log-weights) at the same step and stage of a finished BA2M run.

    The random control then reweights each batch exactly as strongly as BA2M
    did at that point of training (BA2M starts at the identity, spread 0, and
    learns its spread), but at random. The BA2M run is read from the scalars
    that :class:`BA2MWeightHook` logged (``interval=1``) in its work dir.

    Args:
        source (str): Work dir of the BA2M run, absolute or relative to this
            run's work dir; ``{seed}`` is replaced by this run's seed, e.g.
            ``'../ba2m_seed{seed}'`` for the BA2M arm of the same seed in a
            comparison.
        stat (str): The logged statistic used as sigma. Defaults to
            ``'log_w_std'``.
    """

    priority = 'NORMAL'

    def __init__(self, source: str, stat: str = 'log_w_std'):
        if not isinstance(source, str) or not source:
            raise ValueError(f'MatchedSpreadHook: source must be a work dir, got {source!r}')
        self.source = source
        self.stat = stat
        self._traces: Dict[str, Tuple[List[int], List[float]]] = {}
        self._modules: List[RandomBA2M] = []

    def before_train(self, runner) -> None:
        from ba2m_mm.visualization.scalars import find_scalar_files, read_ba2m_scalars
        source = self.source.format(seed=runner.seed)
        if not osp.isabs(source):
            source = osp.normpath(osp.join(runner.work_dir, source))
        files = [f for f in find_scalar_files(source) if osp.basename(f) == 'scalars.json'] \
            if osp.exists(source) else []
        if not files:
            raise FileNotFoundError(
                f'MatchedSpreadHook: no BA2M run at source={source!r} (from {self.source!r}); '
                'train the BA2M arm of this seed first (BA2MWeightHook with interval=1)')
        series = read_ba2m_scalars(files[0])
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._modules = [m for m in model.modules() if isinstance(m, RandomBA2M)]
        if not self._modules:
            raise ValueError('MatchedSpreadHook: the model has no RandomBA2M module')
        for module in self._modules:
            points = series.get(module.name, {}).get(self.stat)
            if not points:
                raise ValueError(f'MatchedSpreadHook: {files[0]!r} has no {self.stat!r} for stage '
                                 f'{module.name!r} (stages there: {sorted(series)})')
            steps, values = zip(*points)
            self._traces[module.name] = (list(steps), list(values))
        runner.logger.info(f'MatchedSpreadHook: sigma of {len(self._modules)} RandomBA2M '
                           f'module(s) follows {self.stat} of {files[0]}')

    def sigma_at(self, name: str, step: int) -> float:
        """The source's value at ``step`` (the last logged step <= it; the
        first one before the source's first step)."""
        steps, values = self._traces[name]
        return values[max(0, bisect_right(steps, step) - 1)]

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        step = runner.iter + 1  # BA2MWeightHook logs the weights of iteration i at i + 1
        for module in self._modules:
            module.sigma = self.sigma_at(module.name, step)


__all__ = ['MatchedSpreadHook']
