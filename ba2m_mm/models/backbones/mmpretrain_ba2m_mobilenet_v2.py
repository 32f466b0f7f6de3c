"""BA2MMobileNetV2 for mmpretrain: MobileNetV2 with BA2M (paper Table X)."""
from typing import List, Optional, Tuple

import torch.nn as nn
from mmpretrain.models.backbones import MobileNetV2
from mmpretrain.registry import MODELS

from .ba2m_stages_mixin import PAPER_REDUCTION, BA2MStagesMixin


@MODELS.register_module()
class BA2MMobileNetV2(BA2MStagesMixin, MobileNetV2):
    """mmpretrain MobileNetV2 with Batch Aware Attention Modules.

    Stages are MobileNetV2's seven groups of inverted residual blocks,
    ``layer1``..``layer7`` (16, 24, 32, 64, 96, 160, 320 channels at
    ``widen_factor=1``); the final 1x1 ``conv2`` (1280 channels) that feeds
    the pooling is not a stage. Every argument of
    :class:`mmpretrain.models.backbones.MobileNetV2` works as upstream and
    upstream checkpoints load with only BA2M's keys missing; at inference the
    network computes exactly what upstream MobileNetV2 computes.

    Thin stages: ``ba2m_stages=None`` puts BA2M after the stages that are at
    least 32 channels wide (the paper's R = 32, so that d = C // R >= 1):
    ``layer3``..``layer7`` at ``widen_factor=1``, i.e.
    ``(False, False, True, True, True, True, True)``; the skipped stages are
    logged. Selecting a stage explicitly with a ``reduction`` larger than its
    width is a ``ValueError`` naming the stage.

    Args:
        ba2m_stages (Sequence[bool], optional): One bool per stage
            ``layer1``..``layer7``. Defaults to None (see above).
        ba2m_cfg (dict, optional): :class:`BA2M` arguments. Defaults to None
            (BA2M defaults, reduction 32).
        ba2m_position (str): ``'between'``: BA2M ``ba2m{i}`` weights the
            output of ``layer{i}`` (Eq. 15). ``'inside'``: BA2M
            ``layer{i}.{j}.ba2m`` weights the residual branch (``conv``) of
            every block with an identity shortcut (stride 1, same width),
            before the addition (Fig. 4c); the first block of each stage has
            no shortcut and gets none, and ``ba2m_stages=None`` then also
            skips stages without such a block (``layer1``, ``layer7``).
            Defaults to ``'between'``.
        **kwargs: Arguments of :class:`mmpretrain.models.backbones.MobileNetV2`.

    ``frozen_stages=k`` freezes ``conv1`` and ``layer1``..``layer{k}`` and the
    BA2M of those stages (the identity). ``norm_eval=True`` leaves the BN
    layers of active BA2M modules in train mode.

    Example:
        >>> from ba2m_mm.models.backbones.mmpretrain_ba2m_mobilenet_v2 import (
        ...     BA2MMobileNetV2)
        >>> import torch
        >>> self = BA2MMobileNetV2(widen_factor=0.5, out_indices=(3, 6),
        ...                        ba2m_cfg=dict(reduction=16))
        >>> self.ba2m_stages  # 8, 16, 16, 32, 48, 80, 160 channels
        (False, False, False, True, True, True, True)
        >>> _ = self.train()
        >>> level_outputs = self.forward(torch.rand(2, 3, 64, 64))
        >>> for level_out in level_outputs:
        ...     print(tuple(level_out.shape))
        (2, 32, 4, 4)
        (2, 160, 2, 2)
        >>> tuple(self.ba2m7.last_weights.shape)  # one weight per image
        (2,)
    """

    ba2m_inside_supported = True
    ba2m_default_min_channels = PAPER_REDUCTION

    def _ba2m_stage_paths(self) -> List[str]:
        return [name for name in self.layers if name != 'conv2']

    def _ba2m_stage_out_channels(self, index: int) -> int:
        return self._ba2m_block_out_channels(getattr(self, f'layer{index + 1}')[-1])

    def _ba2m_blocks(self, index: int) -> List[Tuple[str, nn.Module]]:
        name = f'layer{index + 1}'
        return [(f'{name}.{j}', block) for j, block in enumerate(getattr(self, name))]

    def _ba2m_residual_branch_end(self, block: nn.Module) -> Optional[str]:
        return 'conv' if block.use_res_connect else None  # x + conv(x)

    def _ba2m_block_out_channels(self, block: nn.Module) -> int:
        return block.conv[-1].conv.out_channels  # the linear 1x1 projection
