"""What the mmdet and mmpretrain BA2MResNet backbones share (paper Section III-C).

The mixin goes first in the bases of a subclass of a library's own ResNet, e.g.
``class BA2MResNet(BA2MResNetMixin, mmdet.models.backbones.ResNet)``: the library's
ResNet builds the stem and the stages from every upstream argument, then the mixin adds
BA2M modules without renaming any upstream parameter, so upstream checkpoints load as they
are and ``ba2m_stages=(False,) * 4`` gives upstream ResNet exactly.
"""
import copy
import warnings
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import BA2M  # noqa: F401  registers 'BA2M' in MODELS

BA2M_POSITIONS = ('between', 'inside')


class ResidualBA2MHook:
    """Forward hook on a residual block's last norm layer (``norm3`` of a
    Bottleneck, ``norm2`` of a BasicBlock): multiplies the residual branch by
    its batch weights before the identity is added (paper Fig. 4c).

    The hook holds a reference to the block's BA2M, which ``copy.deepcopy``
    maps to the copied BA2M (e.g. for EMA models). It lives in the block's
    norm layer, which SyncBN conversion/reversion replaces by a new module
    without hooks; :meth:`BA2MResNetMixin.attach_inside_ba2m` puts it back
    (it runs at every forward).

    Args:
        ba2m (BA2M): The BA2M of the block.
    """

    def __init__(self, ba2m: nn.Module):
        self.ba2m = ba2m

    def __call__(self, norm: nn.Module, args, out: torch.Tensor) -> torch.Tensor:
        return self.ba2m(out)  # (N, C, H, W), w_i * residual_i


class BA2MResNetMixin:
    """BA2M in a ResNet (BA2Net, paper Section III-C), library independent.

    Adds three arguments to the library's ResNet; all upstream arguments are
    passed through unchanged.

    Args:
        ba2m_stages (Sequence[bool], optional): Stages that get BA2M, one bool
            per stage (length ``num_stages``). Defaults to None: every stage
            (paper Table XIII, BA2M after all four stages of ResNet-50).
        ba2m_cfg (dict, optional): Keyword arguments of :class:`BA2M`
            (``reduction``, ``branches``, ``normalize``, ``sync``, ``gsa_*``);
            ``in_channels`` and ``name`` are set per stage. ``type`` defaults
            to ``'BA2M'`` (mmengine's root ``MODELS``). Defaults to None
            (BA2M defaults, reduction 32).
        ba2m_position (str): ``'between'``: one BA2M after each selected stage
            (Eq. 15, Fig. 4d); the weighted output feeds the next stage and is
            the stage output returned for ``out_indices``. Modules
            ``ba2m1``..``ba2m4``. ``'inside'``: one BA2M in every residual
            block of the selected stages, on the residual branch after its
            last norm layer and before the addition (Fig. 4c; in mmdet's
            Bottleneck before the ``after_conv3`` plugins). Modules
            ``layer{i}.{j}.ba2m``. Defaults to ``'between'`` (the paper's
            choice, Table VII).

    ``frozen_stages``: the BA2M of a frozen stage is frozen with it
    (``requires_grad=False``, eval mode, hence the identity); a warning says
    so at construction. ``norm_eval``: the BatchNorm layers of BA2M are new,
    never pretrained, and BA2M is the identity at inference, so there are no
    inference statistics to protect; freezing them at their initial values
    would leave the branch responses un-normalised. ``norm_eval=True``
    therefore puts the backbone's own BN layers in eval mode as upstream does
    but keeps the BN layers of active (non-frozen) BA2M modules in train mode.
    """

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
        self.ba2m_stages = self._check_ba2m_stages(ba2m_stages)
        self.ba2m_cfg = copy.deepcopy(dict(ba2m_cfg))
        self.ba2m_position = ba2m_position
        # Name of the BA2M after each stage ('between'), None where there is none.
        self.ba2m_names: List[Optional[str]] = [None] * self.num_stages
        for i, layer_name in enumerate(self.res_layers):
            if not self.ba2m_stages[i]:
                continue
            res_layer = getattr(self, layer_name)
            if ba2m_position == 'between':
                channels = self._block_out_channels(res_layer[-1])
                self.ba2m_names[i] = f'ba2m{i + 1}'
                self.add_module(self.ba2m_names[i], self._build_ba2m(channels, layer_name))
            else:
                for j, block in enumerate(res_layer):
                    block.ba2m = self._build_ba2m(
                        self._block_out_channels(block), f'{layer_name}.{j}')
        self.attach_inside_ba2m()
        frozen = [
            i + 1 for i in range(self.num_stages) if self.ba2m_stages[i] and i < self.frozen_stages
        ]
        if frozen:
            warnings.warn(f'{cls}: BA2M of stage(s) {frozen} is frozen with frozen_stages='
                          f'{self.frozen_stages}, i.e. the identity; deselect those stages in '
                          f'ba2m_stages={self.ba2m_stages} to avoid building them.')
        self._freeze_stages()

    def _check_ba2m_stages(self, ba2m_stages) -> tuple:
        cls = type(self).__name__
        if ba2m_stages is None:
            return (True, ) * self.num_stages
        if (not isinstance(ba2m_stages, (tuple, list)) or len(ba2m_stages) != self.num_stages
                or not all(isinstance(s, bool) for s in ba2m_stages)):
            raise ValueError(f'{cls}: ba2m_stages must be a tuple/list of {self.num_stages} bools '
                             f'(one per stage, num_stages={self.num_stages}), got '
                             f'{ba2m_stages!r}')
        return tuple(ba2m_stages)

    @staticmethod
    def _last_norm_name(block: nn.Module) -> str:
        """Attribute name of the last norm layer of a residual branch."""
        return block.norm3_name if hasattr(block, 'conv3') else block.norm2_name

    @staticmethod
    def _block_out_channels(block: nn.Module) -> int:
        return (block.conv3 if hasattr(block, 'conv3') else block.conv2).out_channels

    def _build_ba2m(self, in_channels: int, name: str) -> nn.Module:
        cfg = dict(type='BA2M')
        cfg.update(self.ba2m_cfg, in_channels=in_channels, name=name)
        try:
            return MODELS.build(cfg)
        except (ValueError, TypeError, KeyError) as e:
            raise type(e)(f'{type(self).__name__}: cannot build BA2M for stage {name} '
                          f'({in_channels} channels) from ba2m_cfg={self.ba2m_cfg!r}: {e}') from e

    def stage_ba2m(self, stage: int) -> List[nn.Module]:
        """BA2M modules of stage ``stage`` (1-based), empty if it has none."""
        if self.ba2m_names[stage - 1] is not None:
            return [getattr(self, self.ba2m_names[stage - 1])]
        res_layer = getattr(self, self.res_layers[stage - 1])
        return [block.ba2m for block in res_layer if hasattr(block, 'ba2m')]

    def attach_inside_ba2m(self):
        """Make sure every ``'inside'`` BA2M hangs on its block's current last
        norm layer (cheap; SyncBN conversion replaces norm layers)."""
        if not hasattr(self, 'ba2m_names') or self.ba2m_position != 'inside':
            return
        for layer_name in self.res_layers:
            for block in getattr(self, layer_name):
                if not hasattr(block, 'ba2m'):
                    continue
                norm = getattr(block, self._last_norm_name(block))
                hooks: Dict = norm._forward_hooks
                if not any(
                        isinstance(h, ResidualBA2MHook) and h.ba2m is block.ba2m
                        for h in hooks.values()):
                    for key in [k for k, h in hooks.items() if isinstance(h, ResidualBA2MHook)]:
                        del hooks[key]  # a stale hook (e.g. of a replaced BA2M)
                    norm.register_forward_hook(ResidualBA2MHook(block.ba2m))

    def _freeze_stages(self):
        super()._freeze_stages()
        if not hasattr(self, 'ba2m_names'):
            return  # called by the upstream __init__, before BA2M exists
        for stage in range(1, min(self.frozen_stages, self.num_stages) + 1):
            for ba2m in self.stage_ba2m(stage):
                ba2m.eval()
                for param in ba2m.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True):
        """Upstream ``train`` (frozen stages, ``norm_eval``), then the BN
        layers of active BA2M modules back in train mode (see class doc)."""
        super().train(mode)
        if mode and self.norm_eval:
            for stage in range(max(self.frozen_stages, 0) + 1, self.num_stages + 1):
                for ba2m in self.stage_ba2m(stage):
                    for m in ba2m.modules():
                        if isinstance(m, _BatchNorm):
                            m.train()
        return self

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        """Stem of upstream ResNet: 7x7 conv (or deep stem) and max pooling."""
        if self.deep_stem:
            x = self.stem(x)  # (N, C_stem, H/2, W/2)
        else:
            x = self.relu(self.norm1(self.conv1(x)))  # (N, C_stem, H/2, W/2)
        return self.maxpool(x)  # (N, C_stem, H/4, W/4)

    def forward(self, x: torch.Tensor) -> tuple:
        """H(X) = FC(w_T F_T(...w_2 F_2(w_1 F_1(X)))) (Eq. 15) without the FC:
        returns the stage outputs selected by ``out_indices``."""
        self.attach_inside_ba2m()
        x = self.forward_stem(x)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)  # F_i(x), (N, C_i, H_i, W_i)
            if self.ba2m_names[i] is not None:
                x = getattr(self, self.ba2m_names[i])(x)  # w_i * F_i(x), same shape
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
