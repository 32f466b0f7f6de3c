"""BA2MResNeXt for mmpretrain: mmpretrain's ResNeXt with BA2M (paper Table XII)."""
from mmpretrain.models.backbones import ResNeXt
from mmpretrain.registry import MODELS

from .ba2m_resnet_mixin import BA2MResNetMixin
from .mmpretrain_ba2m_resnet import between_ba2m_as_last_block


@MODELS.register_module()
class BA2MResNeXt(BA2MResNetMixin, ResNeXt):
    """mmpretrain ResNeXt with Batch Aware Attention Modules (paper Table XII).

    mmpretrain's ResNeXt is its ResNet with grouped Bottlenecks, so everything
    of :class:`BA2MResNet` holds: every argument of
    :class:`mmpretrain.models.backbones.ResNeXt` works as upstream
    (``groups``, ``width_per_group``, ``depth``, ``frozen_stages``,
    ``norm_eval``, ``init_cfg`` ...), upstream ResNeXt checkpoints load with
    only BA2M's keys missing, and at inference the network computes exactly
    what upstream ResNeXt computes.

    Args:
        ba2m_stages (Sequence[bool], optional): Stages that get BA2M, length
            ``num_stages``. Defaults to None (all stages, as the paper's
            ResNet-50 experiment of Table XIII).
        ba2m_cfg (dict, optional): :class:`BA2M` arguments. Defaults to None
            (BA2M defaults).
        ba2m_position (str): ``'between'`` stages (Eq. 15, modules
            ``ba2m1``..``ba2m4``) or ``'inside'`` every Bottleneck, on the
            residual branch after ``norm3`` (Fig. 4c, modules
            ``layer{i}.{j}.ba2m``). Defaults to ``'between'``.
        **kwargs: Arguments of :class:`mmpretrain.models.backbones.ResNeXt`.

    ``frozen_stages`` freezes a stage's BA2M with the stage (the identity).
    ``norm_eval=True`` leaves the BN layers of active BA2M modules in train
    mode (see :class:`BA2MResNet`).

    Example:
        >>> from ba2m_mm.models.backbones.mmpretrain_ba2m_resnext import (
        ...     BA2MResNeXt)
        >>> import torch
        >>> self = BA2MResNeXt(depth=50, groups=4, width_per_group=2,
        ...                    base_channels=8, stem_channels=8,
        ...                    out_indices=(0, 1, 2, 3),
        ...                    ba2m_cfg=dict(reduction=8))
        >>> _ = self.train()
        >>> level_outputs = self.forward(torch.rand(2, 3, 32, 32))
        >>> for level_out in level_outputs:
        ...     print(tuple(level_out.shape))
        (2, 32, 8, 8)
        (2, 64, 4, 4)
        (2, 128, 2, 2)
        (2, 256, 1, 1)
    """

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer id for layer-wise learning-rate decay; a BA2M between stages
        counts as the last block of the stage before it."""
        return super().get_layer_depth(between_ba2m_as_last_block(self, param_name, prefix), prefix)
