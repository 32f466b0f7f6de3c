"""BA2M after chosen stages of any stage-structured backbone (BA2Net, paper Section III-C).

One mechanism for every ``BA2M*`` backbone of ba2m_mm: a ``BA2M<Upstream>`` class is
``class BA2M<Upstream>(BA2MStagesMixin, <Upstream>)`` plus a few adapter methods that say
where the stages of that backbone are (module paths, output widths, which ones
``frozen_stages`` freezes, and for ``'inside'`` the residual blocks; ResNet and ResNeXt
share theirs in ``BA2MResNetMixin``). The upstream class builds the whole network from
every upstream argument, then the mixin adds BA2M modules and applies them with forward
hooks; nothing else about the upstream network is re-implemented.

Why forward hooks, rather than a re-written ``forward`` per backbone (a copy of upstream
code to keep in step with every release) or a class factory that wraps stage modules (it
renames their parameters, so upstream checkpoints would no longer load):

- Nothing upstream is renamed or re-wrapped: BA2M lives in new attributes (``ba2m{i}``
  next to the stages, ``<block>.ba2m`` inside blocks), so an upstream checkpoint loads with
  only BA2M's keys missing, and with BA2M off the module tree and ``state_dict`` (keys and
  their order) are exactly upstream's.
- The upstream ``forward`` runs unchanged, so its stem, ``out_indices``, ``with_cp``,
  ``drop_path``, DenseNet's transitions or EfficientNet's stem-as-layer-0 all keep working,
  and a new upstream release does not have to be mirrored here. A hook on a stage module
  replaces its output by ``w_i * F_i(x)`` (Eq. 15): the weighted map feeds the next stage
  and is the stage output returned for ``out_indices`` (a hook a user adds to that stage
  module later sees the weighted map too).
- Hooks are plain objects holding their BA2M, so ``copy.deepcopy`` (EMA models) maps them
  to the copied BA2M, and pickling works. A forward pre-hook on the backbone puts back any
  hook whose module was replaced (e.g. norm layers swapped by SyncBN conversion).
"""
import contextlib
import copy
import logging
import warnings
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit
from mmengine.registry import MODELS

from ..layers import BA2M  # noqa: F401  registers 'BA2M' in MODELS
from .ba2m_hooks import BA2MHook, _attach_ba2m_hooks

BA2M_POSITIONS = ('between', 'inside')
# Thin-stage policy: ``ba2m_stages=None`` skips stages narrower than this (the paper's R).
PAPER_REDUCTION = 32


@contextlib.contextmanager
def ba2m_generator(stream: int):
    """Draw BA2M's random numbers from a CPU generator of their own.

    Seeded from torch's seed (``torch.initial_seed()``, what mmengine's
    ``randomness.seed`` sets) and ``stream``; torch's global generator is left
    where it was. So a BA2M backbone and its plain twin built with the same seed
    draw the same upstream weights, and the layers built after the backbone (the
    head) get the same initialisation too: a fair, paired comparison.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed((torch.initial_seed() + 7919 * (stream + 1)) % 2**63)
        yield


@contextlib.contextmanager
def _without_modules(root: nn.Module, modules: Sequence[nn.Module]):
    """Detach ``modules`` from the tree of ``root`` for the duration of the block
    (upstream initialisers then neither reach nor draw for them), then put them
    back at their places, in the original order of their parents' children."""
    ids = {id(m) for m in modules}
    parents = [(parent, list(parent._modules.items())) for parent in root.modules() if any(
        id(c) in ids for c in parent._modules.values() if c is not None)]
    for parent, children in parents:
        for name, child in children:
            if child is not None and id(child) in ids:
                del parent._modules[name]
    try:
        yield
    finally:
        for parent, children in parents:
            current = dict(parent._modules)
            parent._modules.clear()
            for name, child in children:
                parent._modules[name] = child if id(child) in ids else current.get(name, child)


def _is_pretrained(init_cfg) -> bool:
    """Whether ``init_cfg`` loads a checkpoint (as mmengine's BaseModule decides)."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(
        isinstance(c, dict) and (c.get('type') == 'Pretrained' or c.get('type') is PretrainedInit)
        for c in cfgs)


class BA2MStagesMixin:
    """BA2M after (or inside) chosen stages of a backbone, library independent.

    Adds three arguments to an upstream backbone; all upstream arguments pass
    through unchanged.

    Args:
        ba2m_stages (Sequence[bool], optional): Stages that get BA2M, one bool
            per stage (see the subclass for what its stages are). Defaults to
            None: every stage, except stages narrower than the paper's
            R = 32 channels in backbones that have such thin stages (and, for
            ``'inside'``, stages without a residual block); the skipped stages
            are logged.
        ba2m_cfg (dict, optional): Keyword arguments of :class:`BA2M`
            (``reduction``, ``branches``, ``normalize``, ``sync``, ``gsa_*``);
            ``in_channels`` and ``name`` are set per stage. ``type`` defaults
            to ``'BA2M'`` (mmengine's root ``MODELS``). Defaults to None
            (BA2M defaults, reduction 32).
        ba2m_position (str): ``'between'``: one BA2M after each selected stage
            (Eq. 15, Fig. 4d), modules ``ba2m{i}`` (i = 1-based stage). The
            weighted output feeds the next stage and is the stage output
            returned for ``out_indices``. ``'inside'``: one BA2M on the
            residual branch of every residual block of the selected stages,
            before the addition (Fig. 4c), modules ``<block>.ba2m``; only
            where the backbone has residual blocks. Defaults to ``'between'``
            (the paper's choice, Table VII).

    ``reduction`` larger than a selected stage's (or block's) channels is a
    ``ValueError`` naming the stage. ``frozen_stages``: the BA2M of a frozen
    stage is frozen with it (``requires_grad=False``, eval mode, hence the
    identity); a warning says so at construction. ``norm_eval=True`` puts
    the backbone's own BN layers in eval mode as upstream does; BA2M's BN
    (:class:`ResponseNorm`, not a ``_BatchNorm``) keeps updating its running
    statistics in active stages: it is new, never pretrained, and unused at
    inference, where BA2M is the identity. ``init_weights``: BA2M gets its own initialisation
    (``BA2M.init_weights``) whatever the upstream initialisation does to the
    other modules; a ``Pretrained`` checkpoint that holds BA2M weights loads
    them.
    """

    # --- adapter interface, per backbone -------------------------------------------------
    # Whether 'inside' (Fig. 4c) is offered, i.e. the blocks are residual blocks.
    ba2m_inside_supported = False
    # Thin-stage policy of ba2m_stages=None: only stages at least this wide (0: all).
    ba2m_default_min_channels = 0

    def _ba2m_stage_paths(self) -> List[str]:
        """Module path of each stage, relative to the backbone; the output of
        that module is the stage output that BA2M weights."""
        raise NotImplementedError

    def _ba2m_stage_out_channels(self, index: int) -> int:
        """Channels of the output of stage ``index`` (0-based)."""
        raise NotImplementedError

    def _ba2m_stage_frozen(self, index: int) -> bool:
        """Whether upstream ``frozen_stages`` freezes stage ``index`` (0-based)."""
        return index < getattr(self, 'frozen_stages', -1)

    def _ba2m_blocks(self, index: int) -> List[Tuple[str, nn.Module]]:
        """(path, block) of every block of stage ``index`` (0-based)."""
        raise NotImplementedError

    def _ba2m_residual_branch_end(self, block: nn.Module) -> Optional[str]:
        """Attribute of ``block`` whose output is the residual branch right
        before the identity is added; None if the block has no identity
        shortcut."""
        return None

    def _ba2m_block_out_channels(self, block: nn.Module) -> int:
        """Channels of the residual branch of ``block``."""
        raise NotImplementedError

    # --- construction --------------------------------------------------------------------
    def __init__(self,
                 *args,
                 ba2m_stages: Optional[Sequence[bool]] = None,
                 ba2m_cfg: Optional[dict] = None,
                 ba2m_position: str = 'between',
                 **kwargs):
        cls = type(self).__name__
        if ba2m_position not in BA2M_POSITIONS:
            raise ValueError(f'{cls}: ba2m_position must be one of {BA2M_POSITIONS}, '
                             f'got {ba2m_position!r}')
        if ba2m_position == 'inside' and not self.ba2m_inside_supported:
            raise ValueError(f"{cls}: ba2m_position='inside' (BA2M on the residual branch, "
                             'Fig. 4c) needs residual blocks with an identity shortcut, which '
                             f"this backbone does not have; use ba2m_position='between'")
        if ba2m_cfg is None:
            ba2m_cfg = dict()
        if not isinstance(ba2m_cfg, dict):
            raise ValueError(f'{cls}: ba2m_cfg must be a dict of BA2M arguments or None, '
                             f'got {ba2m_cfg!r}')
        reserved = sorted({'in_channels', 'name'} & set(ba2m_cfg))
        if reserved:
            raise ValueError(f'{cls}: ba2m_cfg must not set {reserved}; the backbone sets them '
                             f'per stage. Got ba2m_cfg={ba2m_cfg!r}')
        super().__init__(*args, **kwargs)
        self.ba2m_cfg = copy.deepcopy(dict(ba2m_cfg))
        self.ba2m_position = ba2m_position
        paths = self._ba2m_stage_paths()
        self.ba2m_stages = self._check_ba2m_stages(ba2m_stages, paths)
        # Name of the BA2M after each stage ('between'), None where there is none.
        self.ba2m_names: List[Optional[str]] = [None] * len(paths)
        for i, path in enumerate(paths):
            if not self.ba2m_stages[i]:
                continue
            if ba2m_position == 'between':
                self.ba2m_names[i] = f'ba2m{i + 1}'
                with ba2m_generator(i):
                    ba2m = self._build_ba2m(self._ba2m_stage_out_channels(i), path)
                self.add_module(self.ba2m_names[i], ba2m)
                continue
            blocks = self._ba2m_residual_blocks(i)
            if not blocks:
                raise ValueError(
                    f"{cls}: ba2m_position='inside' puts BA2M on residual branches (Fig. 4c), "
                    f'but stage {path} has no block with an identity shortcut; deselect it in '
                    f'ba2m_stages={self.ba2m_stages}')
            with ba2m_generator(i):
                for block_path, block in blocks:
                    block.ba2m = self._build_ba2m(self._ba2m_block_out_channels(block), block_path)
        self.attach_ba2m_hooks()
        self.register_forward_pre_hook(_attach_ba2m_hooks)
        frozen = [
            i + 1 for i in range(len(paths)) if self.ba2m_stages[i] and self._ba2m_stage_frozen(i)
        ]
        if frozen:
            warnings.warn(f'{cls}: BA2M of stage(s) {frozen} is frozen with frozen_stages='
                          f'{self.frozen_stages}, i.e. the identity; deselect those stages in '
                          f'ba2m_stages={self.ba2m_stages} to avoid building them.')
        self._freeze_ba2m()  # the upstream stages freeze when upstream says (init or train)

    def _ba2m_residual_blocks(self, index: int) -> List[Tuple[str, nn.Module]]:
        return [(path, block) for path, block in self._ba2m_blocks(index)
                if self._ba2m_residual_branch_end(block) is not None]

    def _check_ba2m_stages(self, ba2m_stages, paths: List[str]) -> tuple:
        cls = type(self).__name__
        num = len(paths)
        if ba2m_stages is None:
            return self._default_ba2m_stages(paths)
        if (not isinstance(ba2m_stages, (tuple, list)) or len(ba2m_stages) != num
                or not all(isinstance(s, bool) for s in ba2m_stages)):
            raise ValueError(f'{cls}: ba2m_stages must be a tuple/list of {num} bools (one per '
                             f'stage, num_stages={num}: {", ".join(paths)}), got {ba2m_stages!r}')
        return tuple(ba2m_stages)

    def _default_ba2m_stages(self, paths: List[str]) -> tuple:
        """Thin-stage policy of ``ba2m_stages=None`` (see the class docs)."""
        cls = type(self).__name__
        selected, skipped = [], []
        for i, path in enumerate(paths):
            channels = self._ba2m_stage_out_channels(i)
            if channels < self.ba2m_default_min_channels:
                skipped.append(f'{path} ({channels} channels < R = {PAPER_REDUCTION})')
            elif self.ba2m_position == 'inside' and not self._ba2m_residual_blocks(i):
                skipped.append(f'{path} (no residual block)')
            else:
                selected.append(i)
        stages = tuple(i in selected for i in range(len(paths)))
        if not selected:
            raise ValueError(f'{cls}: ba2m_stages=None selects no stage: {", ".join(skipped)}; '
                             'pass ba2m_stages (and a smaller ba2m_cfg reduction) explicitly')
        if skipped:
            print_log(
                f'{cls}: ba2m_stages=None -> {stages}: no BA2M at {", ".join(skipped)}',
                logger='current',
                level=logging.INFO)
        return stages

    def _build_ba2m(self, in_channels: int, name: str) -> nn.Module:
        cls = type(self).__name__
        where = (f'{cls}: cannot build BA2M for stage {name} ({in_channels} channels) from '
                 f'ba2m_cfg={self.ba2m_cfg!r}')
        # BA2M checks its arguments (reduction <= in_channels among them); its error is
        # re-raised naming the stage.
        cfg = dict(type='BA2M')
        cfg.update(self.ba2m_cfg, in_channels=in_channels, name=name)
        try:
            return MODELS.build(cfg)
        except (ValueError, TypeError, KeyError) as e:
            raise type(e)(f'{where}: {e}') from e

    # --- BA2M modules and their hooks ----------------------------------------------------
    def stage_ba2m(self, stage: int) -> List[nn.Module]:
        """BA2M modules of stage ``stage`` (1-based), empty if it has none."""
        if self.ba2m_names[stage - 1] is not None:
            return [getattr(self, self.ba2m_names[stage - 1])]
        if self.ba2m_position != 'inside':
            return []
        return [block.ba2m for _, block in self._ba2m_blocks(stage - 1) if hasattr(block, 'ba2m')]

    def ba2m_modules(self) -> List[nn.Module]:
        """Every BA2M of the backbone, stage by stage."""
        return [m for stage in range(1, len(self.ba2m_names) + 1) for m in self.stage_ba2m(stage)]

    def _ba2m_hook_targets(self) -> List[Tuple[nn.Module, nn.Module]]:
        """(module to hook, its BA2M) for every hook-applied BA2M."""
        targets = []
        for i, path in enumerate(self._ba2m_stage_paths()):
            if self.ba2m_names[i] is not None:
                targets.append((self.get_submodule(path), getattr(self, self.ba2m_names[i])))
            if self.ba2m_position == 'inside' and self.ba2m_stages[i]:
                for _, block in self._ba2m_blocks(i):
                    if hasattr(block, 'ba2m'):
                        end = getattr(block, self._ba2m_residual_branch_end(block))
                        targets.append((end, block.ba2m))
        return targets

    def attach_ba2m_hooks(self):
        """Make sure every hook-applied BA2M hangs on its module, exactly once
        (cheap; runs before every forward, since e.g. SyncBN conversion
        replaces norm layers by new modules without hooks)."""
        if not hasattr(self, 'ba2m_names'):
            return
        for module, ba2m in self._ba2m_hook_targets():
            hooks = module._forward_hooks
            if any(isinstance(h, BA2MHook) and h.ba2m is ba2m for h in hooks.values()):
                continue
            for key in [k for k, h in hooks.items() if isinstance(h, BA2MHook)]:
                del hooks[key]  # a stale hook (e.g. of a replaced BA2M)
            module.register_forward_hook(BA2MHook(ba2m))

    # --- training state ------------------------------------------------------------------
    def _freeze_stages(self):
        super()._freeze_stages()
        if hasattr(self, 'ba2m_names'):  # not yet when the upstream __init__ calls it
            self._freeze_ba2m()

    def _freeze_ba2m(self):
        """The BA2M of frozen stages: eval mode (the identity), no gradients."""
        for i in range(len(self.ba2m_names)):
            if self._ba2m_stage_frozen(i):
                for ba2m in self.stage_ba2m(i + 1):
                    ba2m.eval()
                    for param in ba2m.parameters():
                        param.requires_grad = False

    def train(self, mode: bool = True):
        """Upstream ``train`` (frozen stages, ``norm_eval``), returning ``self``
        as ``nn.Module.train`` does (some upstream overrides return None)."""
        super().train(mode)
        return self

    def init_weights(self):
        """Upstream initialisation, with BA2M's own initialisation kept.

        BA2M is initialised by ``BA2M.init_weights`` (not reached by upstream
        ``init_weights`` below plain ``nn.Sequential`` stages) from its own
        generator (:func:`ba2m_generator`), and is detached while upstream
        initialises (upstream layer initialisers such as Kaiming on every
        ``Conv2d``, or ShuffleNetV2's loop, would otherwise reach its layers and
        draw from torch's global generator): with the same seed, every upstream
        weight and the head equal the plain twin's. With a ``Pretrained``
        checkpoint BA2M stays attached, so that the BA2M weights the checkpoint
        holds load.
        """
        ba2ms = self.ba2m_modules()
        with ba2m_generator(len(self.ba2m_names)):
            for m in ba2ms:
                if hasattr(m, 'init_weights') and not getattr(m, 'is_init', False):
                    m.init_weights()
        if _is_pretrained(self.init_cfg):
            super().init_weights()
            return
        with _without_modules(self, ba2ms):
            super().init_weights()
