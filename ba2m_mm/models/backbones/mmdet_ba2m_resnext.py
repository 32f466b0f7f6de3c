"""BA2MResNeXt for mmdet: mmdet's ResNeXt with BA2M (BA2Net, paper Section III-C)."""
from mmdet.models.backbones import ResNeXt
from mmdet.registry import MODELS

from .ba2m_resnet_mixin import BA2MResNetMixin


@MODELS.register_module()
class BA2MResNeXt(BA2MResNetMixin, ResNeXt):
    """mmdet ResNeXt with Batch Aware Attention Modules (paper Table XII).

    mmdet's ResNeXt is its ResNet with grouped Bottlenecks, so everything of
    :class:`BA2MResNet` holds: every argument of
    :class:`mmdet.models.backbones.ResNeXt` works as upstream (``groups``,
    ``base_width``, ``depth``, ``frozen_stages``, ``norm_eval``, ``dcn``,
    ``plugins``, ``init_cfg`` ...), upstream ResNeXt checkpoints load with
    only BA2M's keys missing, and at inference the network computes exactly
    what upstream ResNeXt computes.

    Args:
        ba2m_stages (Sequence[bool], optional): Stages that get BA2M, length
            ``num_stages``. Defaults to None (all stages).
        ba2m_cfg (dict, optional): :class:`BA2M` arguments. Defaults to None
            (BA2M defaults).
        ba2m_position (str): ``'between'`` stages (Eq. 15, modules
            ``ba2m1``..``ba2m4``) or ``'inside'`` every Bottleneck, on the
            residual branch after ``norm3`` (Fig. 4c, modules
            ``layer{i}.{j}.ba2m``). Defaults to ``'between'``.
        **kwargs: Arguments of :class:`mmdet.models.backbones.ResNeXt`.

    ``frozen_stages`` freezes a stage's BA2M with the stage (the identity).
    ``norm_eval=True`` leaves the BN layers of active BA2M modules in train
    mode (see :class:`BA2MResNet`).

    Example:
        >>> from ba2m_mm.models.backbones.mmdet_ba2m_resnext import BA2MResNeXt
        >>> import torch
        >>> self = BA2MResNeXt(depth=50, groups=4, base_width=2,
        ...                    base_channels=8, stem_channels=8,
        ...                    ba2m_cfg=dict(reduction=8))
        >>> _ = self.train()
        >>> level_outputs = self.forward(torch.rand(2, 3, 32, 32))
        >>> for level_out in level_outputs:
        ...     print(tuple(level_out.shape))
        (2, 32, 8, 8)
        (2, 64, 4, 4)
        (2, 128, 2, 2)
        (2, 256, 1, 1)
        >>> tuple(self.ba2m4.last_weights.shape)  # one weight per image
        (2,)
    """
