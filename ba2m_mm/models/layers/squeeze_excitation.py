"""Squeeze-and-excitation as a stage module of the BA2M backbones: the positive control."""
from typing import Optional

from mmengine.registry import MODELS

try:  # the same layer in both libraries; mmpretrain's is used where installed
    from mmpretrain.models.utils import SELayer
except ImportError:  # pragma: no cover - mmdet only
    from mmdet.models.layers import SELayer


@MODELS.register_module()
class SqueezeExcitation(SELayer):
    """mmpretrain's ``SELayer`` (Hu et al., SENet) with the constructor every
    module that the ``BA2M*`` backbones place takes (``in_channels``, ``name``).

    ``x * sigmoid(W2 relu(W1 GAP(x)))``, per sample: the positive control of the
    CIFAR-10 testbed (attention known to help), placed with
    ``ba2m_position='inside'`` where SE-ResNet puts it, on the residual branch.

    Args:
        in_channels (int): Channels C of the input.
        reduction (int): Squeeze ratio: C / reduction hidden channels, rounded
            up to a multiple of ``divisor``. Defaults to 16 (SENet's).
        divisor (int): See above. Defaults to 8 (mmpretrain's).
        name (str, optional): Where it sits, e.g. ``'layer1.0'``. Defaults to
            None.
        **kwargs: Other arguments of ``SELayer``.
    """

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 divisor: int = 8,
                 name: Optional[str] = None,
                 **kwargs):
        if not isinstance(reduction, int) or not 1 <= reduction <= in_channels:
            raise ValueError(f'SqueezeExcitation ({name}): reduction must be an int in [1, '
                             f'in_channels={in_channels}], got {reduction!r}')
        super().__init__(in_channels, ratio=reduction, divisor=divisor, **kwargs)
        self.name = name


__all__ = ['SqueezeExcitation']
