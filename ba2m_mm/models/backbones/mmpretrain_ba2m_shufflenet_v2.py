"""BA2MShuffleNetV2 for mmpretrain: ShuffleNetV2 with BA2M (paper Table X)."""
from typing import List, Tuple

import torch.nn as nn
from mmpretrain.models.backbones import ShuffleNetV2
from mmpretrain.registry import MODELS

from .ba2m_stages_mixin import PAPER_REDUCTION, BA2MStagesMixin


@MODELS.register_module()
class BA2MShuffleNetV2(BA2MStagesMixin, ShuffleNetV2):
    """mmpretrain ShuffleNetV2 with Batch Aware Attention Modules.

    Stages are ShuffleNetV2's three groups of blocks, ``layers.0``..``layers.2``
    (116, 232, 464 channels at ``widen_factor=1``; 48, 96, 192 at 0.5); the
    final 1x1 conv ``layers.3`` that feeds the pooling is not a stage. Every
    argument of :class:`mmpretrain.models.backbones.ShuffleNetV2` works as
    upstream and upstream checkpoints load with only BA2M's keys missing; at
    inference the network computes exactly what upstream ShuffleNetV2
    computes.

    ``ba2m_stages=None`` selects every stage at least 32 channels wide (the
    paper's R), i.e. all three at every upstream ``widen_factor``.
    ``'inside'`` is not offered: a ShuffleNetV2 block splits the channels,
    transforms one half and concatenates (then shuffles); there is no
    identity addition for Fig. 4c to weight a residual branch against.

    Args:
        ba2m_stages (Sequence[bool], optional): One bool per stage. Defaults
            to None (see above).
        ba2m_cfg (dict, optional): :class:`BA2M` arguments. Defaults to None
            (BA2M defaults, reduction 32).
        ba2m_position (str): ``'between'`` only: BA2M ``ba2m{i}`` weights the
            output of ``layers.{i-1}`` (Eq. 15).
        **kwargs: Arguments of
            :class:`mmpretrain.models.backbones.ShuffleNetV2`.

    ``frozen_stages=k`` freezes ``conv1``, ``layers.0``..``layers.{k-1}`` and
    the BA2M of those stages (the identity). ``norm_eval=True`` leaves the BN
    layers of active BA2M modules in train mode. Upstream ``init_weights``
    re-initialises every conv and BN layer it finds; BA2M keeps its own
    initialisation (see :class:`BA2MStagesMixin`).

    Example:
        >>> from ba2m_mm.models.backbones.mmpretrain_ba2m_shufflenet_v2 import (
        ...     BA2MShuffleNetV2)
        >>> import torch
        >>> self = BA2MShuffleNetV2(widen_factor=0.5, out_indices=(0, 1, 2),
        ...                         ba2m_cfg=dict(reduction=16))
        >>> _ = self.train()
        >>> level_outputs = self.forward(torch.rand(2, 3, 64, 64))
        >>> for level_out in level_outputs:
        ...     print(tuple(level_out.shape))
        (2, 48, 8, 8)
        (2, 96, 4, 4)
        (2, 192, 2, 2)
        >>> [self.ba2m1.name, self.ba2m3.name]
        ['layers.0', 'layers.2']
    """

    ba2m_default_min_channels = PAPER_REDUCTION

    def _ba2m_stage_paths(self) -> List[str]:
        return [f'layers.{i}' for i in range(len(self.stage_blocks))]

    def _ba2m_stage_out_channels(self, index: int) -> int:
        last = self.layers[index][-1]
        # stride 1: cat(untouched half, branch2(other half)); stride 2: cat(branch1, branch2)
        return 2 * last.branch2[-1].conv.out_channels

    def _ba2m_blocks(self, index: int) -> List[Tuple[str, nn.Module]]:
        return [(f'layers.{index}.{j}', block) for j, block in enumerate(self.layers[index])]
