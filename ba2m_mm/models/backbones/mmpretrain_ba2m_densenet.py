"""BA2MDenseNet for mmpretrain: DenseNet with BA2M (paper Table X)."""
from typing import List, Tuple

import torch.nn as nn
from mmpretrain.models.backbones import DenseNet
from mmpretrain.registry import MODELS

from .ba2m_stages_mixin import PAPER_REDUCTION, BA2MStagesMixin


@MODELS.register_module()
class BA2MDenseNet(BA2MStagesMixin, DenseNet):
    """mmpretrain DenseNet with Batch Aware Attention Modules.

    A stage is a dense block and the transition after it (1x1 conv and 2x2
    average pooling; after the last block, BN and activation), as upstream
    ``out_indices`` counts them: BA2M ``ba2m{i}`` weights the output of
    ``transitions.{i-1}``, which feeds the next dense block (Eq. 15). Every
    argument of :class:`mmpretrain.models.backbones.DenseNet` works as
    upstream (``arch`` names or dicts, e.g. the paper's CIFAR DenseNet-BC-100
    ``dict(growth_rate=12, depths=[16, 16, 16], init_channels=24)``) and
    upstream checkpoints load with only BA2M's keys missing; at inference the
    network computes exactly what upstream DenseNet computes.

    ``ba2m_stages=None`` selects every stage at least 32 channels wide (the
    paper's R), i.e. all stages of every upstream arch. ``'inside'`` is not
    offered: dense layers concatenate their output to their input, there is
    no identity addition for Fig. 4c. Upstream DenseNet has no
    ``norm_eval``.

    Args:
        ba2m_stages (Sequence[bool], optional): One bool per dense block.
            Defaults to None (see above).
        ba2m_cfg (dict, optional): :class:`BA2M` arguments. Defaults to None
            (BA2M defaults, reduction 32).
        ba2m_position (str): ``'between'`` only. Defaults to ``'between'``.
        **kwargs: Arguments of :class:`mmpretrain.models.backbones.DenseNet`.

    ``frozen_stages=k`` freezes the first k dense blocks and transitions and
    their BA2M (the identity).

    Example:
        >>> from ba2m_mm.models.backbones.mmpretrain_ba2m_densenet import (
        ...     BA2MDenseNet)
        >>> import torch
        >>> arch = dict(growth_rate=8, depths=[2, 2, 2], init_channels=16)
        >>> self = BA2MDenseNet(arch=arch, out_indices=(0, 1, 2),
        ...                     ba2m_cfg=dict(reduction=4))
        >>> _ = self.train()
        >>> level_outputs = self.forward(torch.rand(2, 3, 64, 64))
        >>> for level_out in level_outputs:
        ...     print(tuple(level_out.shape))
        (2, 16, 8, 8)
        (2, 16, 4, 4)
        (2, 32, 4, 4)
    """

    ba2m_default_min_channels = PAPER_REDUCTION

    def _ba2m_stage_paths(self) -> List[str]:
        return [f'transitions.{i}' for i in range(self.num_stages)]

    def _ba2m_stage_out_channels(self, index: int) -> int:
        transition = self.transitions[index]
        if hasattr(transition, 'conv'):  # DenseTransition: norm, act, 1x1 conv, pool
            return transition.conv.out_channels
        return transition[0].num_features  # last stage: norm, act

    def _ba2m_blocks(self, index: int) -> List[Tuple[str, nn.Module]]:
        return [(f'stages.{index}.block.{j}', layer)
                for j, layer in enumerate(self.stages[index].block)]
