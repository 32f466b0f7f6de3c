"""BA2MResNet for mmdet: mmdet's ResNet with BA2M (BA2Net, paper Section III-C)."""
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS

from .ba2m_resnet_mixin import BA2MResNetMixin


@MODELS.register_module()
class BA2MResNet(BA2MResNetMixin, ResNet):
    """mmdet ResNet with Batch Aware Attention Modules (BA2Net).

    Every argument of :class:`mmdet.models.backbones.ResNet` works as upstream
    (``depth``, ``out_indices``, ``frozen_stages``, ``norm_eval``, ``style``,
    ``with_cp``, ``dcn``/``stage_with_dcn``, ``plugins``, ``init_cfg`` ...)
    and upstream ResNet checkpoints load unchanged (only BA2M's own
    parameters are missing). BA2M is active in training only; at inference
    the network computes exactly what upstream ResNet computes.

    Args:
        depth (int): Depth of resnet, from {18, 34, 50, 101, 152}.
        ba2m_stages (Sequence[bool], optional): Stages that get BA2M, length
            ``num_stages``. Defaults to None (all stages, paper Table XIII).
        ba2m_cfg (dict, optional): :class:`BA2M` arguments, e.g.
            ``dict(reduction=32, normalize='scaled_softmax', sync=True)``.
            Defaults to None (BA2M defaults).
        ba2m_position (str): ``'between'`` stages (Eq. 15, modules
            ``ba2m1``..``ba2m4``) or ``'inside'`` every residual block
            (Fig. 4c, modules ``layer{i}.{j}.ba2m``). Defaults to
            ``'between'``.
        **kwargs: Arguments of :class:`mmdet.models.backbones.ResNet`.

    ``frozen_stages`` freezes a stage's BA2M with the stage (the identity).
    ``norm_eval=True`` (mmdet's default) puts the pretrained BN layers in eval
    mode; the BN of active BA2M modules keeps updating its running statistics:
    it is new, never used at inference, and frozen initial statistics would
    leave the branch responses un-normalised.

    Example:
        >>> from ba2m_mm.models.backbones.mmdet_ba2m_resnet import BA2MResNet
        >>> import torch
        >>> self = BA2MResNet(depth=18, ba2m_cfg=dict(reduction=16))
        >>> _ = self.train()
        >>> inputs = torch.rand(2, 3, 32, 32)
        >>> level_outputs = self.forward(inputs)
        >>> for level_out in level_outputs:
        ...     print(tuple(level_out.shape))
        (2, 64, 8, 8)
        (2, 128, 4, 4)
        (2, 256, 2, 2)
        (2, 512, 1, 1)
        >>> tuple(self.ba2m4.last_weights.shape)  # one weight per image
        (2,)
    """
