"""What the mmdet and mmpretrain BA2MResNet / BA2MResNeXt backbones share (Section III-C).

The mixin goes first in the bases of a subclass of a library's own ResNet (or ResNeXt,
which is a ResNet with grouped Bottlenecks), e.g.
``class BA2MResNet(BA2MResNetMixin, mmdet.models.backbones.ResNet)``: the library's
ResNet builds the stem and the stages from every upstream argument, then
:class:`BA2MStagesMixin` adds BA2M modules without renaming any upstream parameter, so
upstream checkpoints load as they are and ``ba2m_stages=(False,) * 4`` gives upstream
ResNet exactly.

This is the ResNet adapter of :class:`BA2MStagesMixin`: it says where the stages
(``layer1``..``layer{num_stages}``) and the residual branches are. The library's own
``forward`` runs unchanged; the between-stage BA2M hangs on each ``layer{i}`` and
``'inside'`` BA2M (Fig. 4c) on each block's last norm layer, both through the shared hook
mechanism.
"""
from typing import List, Optional, Tuple

import torch.nn as nn

from .ba2m_hooks import BA2MHook
from .ba2m_stages_mixin import BA2M_POSITIONS, BA2MStagesMixin

__all__ = ['BA2MResNetMixin', 'BA2MHook', 'BA2M_POSITIONS']


class BA2MResNetMixin(BA2MStagesMixin):
    """BA2M in a ResNet or ResNeXt (BA2Net, paper Section III-C).

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
    so at construction. ``norm_eval=True`` puts the backbone's own BN layers in
    eval mode as upstream does; BA2M's BN (:class:`ResponseNorm`, not a
    ``_BatchNorm``) keeps updating its running statistics in active stages: it
    is new, never pretrained, and unused at inference.
    """

    ba2m_inside_supported = True  # BasicBlock / Bottleneck: identity + residual branch

    def _ba2m_stage_paths(self) -> List[str]:
        return list(self.res_layers)

    def _ba2m_stage_out_channels(self, index: int) -> int:
        return self._block_out_channels(getattr(self, self.res_layers[index])[-1])

    def _ba2m_blocks(self, index: int) -> List[Tuple[str, nn.Module]]:
        layer_name = self.res_layers[index]
        return [(f'{layer_name}.{j}', block) for j, block in enumerate(getattr(self, layer_name))]

    def _ba2m_residual_branch_end(self, block: nn.Module) -> Optional[str]:
        return self._last_norm_name(block)

    def _ba2m_block_out_channels(self, block: nn.Module) -> int:
        return self._block_out_channels(block)

    @staticmethod
    def _last_norm_name(block: nn.Module) -> str:
        """Attribute name of the last norm layer of a residual branch."""
        return block.norm3_name if hasattr(block, 'conv3') else block.norm2_name

    @staticmethod
    def _block_out_channels(block: nn.Module) -> int:
        return (block.conv3 if hasattr(block, 'conv3') else block.conv2).out_channels
