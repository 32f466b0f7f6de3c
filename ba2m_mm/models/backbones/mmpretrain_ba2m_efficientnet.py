"""BA2MEfficientNet for mmpretrain: EfficientNet with BA2M (paper Table X)."""
from typing import List, Optional, Tuple

import torch.nn as nn
from mmpretrain.models.backbones import EfficientNet
from mmpretrain.registry import MODELS

from .ba2m_stages_mixin import PAPER_REDUCTION, BA2MStagesMixin


@MODELS.register_module()
class BA2MEfficientNet(BA2MStagesMixin, EfficientNet):
    """mmpretrain EfficientNet with Batch Aware Attention Modules.

    Stages are EfficientNet's groups of MBConv (or EdgeTPU) blocks,
    ``layers.1``..``layers.{n-2}``: upstream counts the stem conv as
    ``layers.0`` and the final 1x1 conv as the last layer, neither is a
    stage. For ``arch='b0'`` the five stages have 16, 24, 40, 112 and 320
    channels (``model_scaling`` merges stride-1 groups into the group
    before). Every argument of :class:`mmpretrain.models.backbones.EfficientNet`
    works as upstream and upstream checkpoints load with only BA2M's keys
    missing; at inference the network computes exactly what upstream
    EfficientNet computes.

    Thin stages: ``ba2m_stages=None`` puts BA2M after the stages that are at
    least 32 channels wide (the paper's R = 32): for b0
    ``(False, False, True, True, True)``; the skipped stages are logged.
    Selecting a stage explicitly with a ``reduction`` larger than its width
    is a ``ValueError`` naming the stage.

    Args:
        ba2m_stages (Sequence[bool], optional): One bool per stage. Defaults
            to None (see above).
        ba2m_cfg (dict, optional): :class:`BA2M` arguments. Defaults to None
            (BA2M defaults, reduction 32).
        ba2m_position (str): ``'between'``: BA2M ``ba2m{i}`` weights the
            output of ``layers.{i}`` (Eq. 15). ``'inside'``: BA2M
            ``layers.{i}.{j}.ba2m`` weights the residual branch of every
            block with an identity shortcut (after ``linear_conv`` of an
            InvertedResidual, ``conv2`` of an EdgeResidual, before drop-path
            and the addition, Fig. 4c). Defaults to ``'between'``.
        **kwargs: Arguments of :class:`mmpretrain.models.backbones.EfficientNet`.

    ``frozen_stages=k`` freezes upstream's ``layers.0``..``layers.{k-1}``,
    i.e. the stem and stages 1..k-1, and the BA2M of those stages (the
    identity). ``norm_eval=True`` leaves the BN layers of active BA2M modules
    in train mode.

    Example:
        >>> from ba2m_mm.models.backbones.mmpretrain_ba2m_efficientnet import (
        ...     BA2MEfficientNet)
        >>> import torch
        >>> self = BA2MEfficientNet(arch='b0', out_indices=(3, 5),
        ...                         ba2m_cfg=dict(reduction=8))
        >>> self.ba2m_stages
        (False, False, True, True, True)
        >>> _ = self.train()
        >>> level_outputs = self.forward(torch.rand(2, 3, 64, 64))
        >>> for level_out in level_outputs:
        ...     print(tuple(level_out.shape))
        (2, 40, 8, 8)
        (2, 320, 2, 2)
    """

    ba2m_inside_supported = True
    ba2m_default_min_channels = PAPER_REDUCTION

    def _ba2m_stage_paths(self) -> List[str]:
        return [f'layers.{i}' for i in range(1, len(self.layers) - 1)]

    def _ba2m_stage_out_channels(self, index: int) -> int:
        return self._ba2m_block_out_channels(self.layers[index + 1][-1])

    def _ba2m_stage_frozen(self, index: int) -> bool:
        return index + 1 < self.frozen_stages  # frozen_stages counts the stem (layers.0)

    def _ba2m_blocks(self, index: int) -> List[Tuple[str, nn.Module]]:
        return [(f'layers.{index + 1}.{j}', block)
                for j, block in enumerate(self.layers[index + 1])]

    def _ba2m_residual_branch_end(self, block: nn.Module) -> Optional[str]:
        if getattr(block, 'with_res_shortcut', False):  # InvertedResidual (MBConv)
            return 'linear_conv'
        if getattr(block, 'with_residual', False):  # EdgeResidual
            return 'conv2'
        return None

    def _ba2m_block_out_channels(self, block: nn.Module) -> int:
        last = block.linear_conv if hasattr(block, 'linear_conv') else block.conv2
        return last.conv.out_channels
