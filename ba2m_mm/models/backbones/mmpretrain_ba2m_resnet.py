"""BA2MResNet and BA2MResNet_CIFAR for mmpretrain (BA2Net, paper Section III-C)."""
from mmpretrain.models.backbones import ResNet, ResNet_CIFAR
from mmpretrain.registry import MODELS

from .ba2m_resnet_mixin import BA2MResNetMixin


def between_ba2m_as_last_block(backbone, param_name: str, prefix: str = '') -> str:
    """``{prefix}ba2m{i}.*`` -> a parameter name of the last block of stage i,
    for mmpretrain's ResNet ``get_layer_depth``; other names unchanged."""
    if param_name.startswith(f'{prefix}ba2m'):
        stage = int(param_name[len(prefix) + 4:].split('.')[0])
        last_block = backbone.stage_blocks[stage - 1] - 1
        param_name = f'{prefix}layer{stage}.{last_block}.ba2m'
    return param_name


@MODELS.register_module()
class BA2MResNet(BA2MResNetMixin, ResNet):
    """mmpretrain ResNet with Batch Aware Attention Modules (BA2Net).

    Every argument of :class:`mmpretrain.models.backbones.ResNet` works as
    upstream (``depth``, ``out_indices``, ``frozen_stages``, ``norm_eval``,
    ``style``, ``with_cp``, ``drop_path_rate``, ``init_cfg`` ...) and upstream
    ResNet checkpoints load unchanged (only BA2M's own parameters are
    missing). BA2M is active in training only; at inference the network
    computes exactly what upstream ResNet computes.

    Args:
        depth (int): Network depth, from {18, 34, 50, 101, 152}.
        ba2m_stages (Sequence[bool], optional): Stages that get BA2M, length
            ``num_stages``. Defaults to None (all stages, paper Table XIII).
        ba2m_cfg (dict, optional): :class:`BA2M` arguments, e.g.
            ``dict(reduction=16)``. Defaults to None (BA2M defaults).
        ba2m_position (str): ``'between'`` stages (Eq. 15, modules
            ``ba2m1``..``ba2m4``) or ``'inside'`` every residual block
            (Fig. 4c, modules ``layer{i}.{j}.ba2m``). Defaults to
            ``'between'``.
        **kwargs: Arguments of :class:`mmpretrain.models.backbones.ResNet`.

    ``frozen_stages`` freezes a stage's BA2M with the stage (the identity).
    ``norm_eval=True`` puts the backbone's BN layers in eval mode; the BN of
    active BA2M modules keeps updating its running statistics: it is new,
    never used at inference, and frozen initial statistics would leave the
    branch responses un-normalised.

    Example:
        >>> from ba2m_mm.models.backbones.mmpretrain_ba2m_resnet import BA2MResNet
        >>> import torch
        >>> self = BA2MResNet(depth=18, out_indices=(0, 1, 2, 3),
        ...                   ba2m_cfg=dict(reduction=16))
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

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer id for layer-wise learning-rate decay; a BA2M between stages
        counts as the last block of the stage before it."""
        return super().get_layer_depth(between_ba2m_as_last_block(self, param_name, prefix), prefix)


@MODELS.register_module()
class BA2MResNet_CIFAR(BA2MResNetMixin, ResNet_CIFAR):
    """mmpretrain ResNet_CIFAR (3x3 stem, no max pooling) with BA2M.

    Arguments as :class:`BA2MResNet` plus those of
    :class:`mmpretrain.models.backbones.ResNet_CIFAR`; the paper's CIFAR
    experiments (Tables VII-XII) use this stem.

    Example:
        >>> from ba2m_mm.models.backbones.mmpretrain_ba2m_resnet import (
        ...     BA2MResNet_CIFAR)
        >>> import torch
        >>> self = BA2MResNet_CIFAR(depth=18, base_channels=16,
        ...                         stem_channels=16, out_indices=(0, 1, 2, 3),
        ...                         ba2m_cfg=dict(reduction=8))
        >>> _ = self.train()
        >>> level_outputs = self.forward(torch.rand(2, 3, 32, 32))
        >>> for level_out in level_outputs:
        ...     print(tuple(level_out.shape))
        (2, 16, 32, 32)
        (2, 32, 16, 16)
        (2, 64, 8, 8)
        (2, 128, 4, 4)
    """
