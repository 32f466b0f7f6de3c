"""Squeeze-and-excitation as a stage module of the BA2M backbones: the positive control."""
from typing import Optional

import torch
import torch.nn as nn
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

    With ``identity_start=True`` the gate is ``2 * sigmoid(.)`` (the attention gain
    of 2 of timm's NFNets) and ``W2`` and its bias start at 0, so the module is
    exactly the identity at initialisation, whatever its input, as BA2M is. The
    plain gate starts at ``sigmoid(0) = 0.5`` wherever the input is 0, which it
    is on a zero-initialised residual branch (mmpretrain's ``zero_init_residual``):
    it then halves every residual branch, and the gradient reaching it.

    Args:
        in_channels (int): Channels C of the input.
        reduction (int): Squeeze ratio: C / reduction hidden channels, rounded
            up to a multiple of ``divisor``. Defaults to 16 (SENet's).
        divisor (int): See above. Defaults to 8 (mmpretrain's).
        name (str, optional): Where it sits, e.g. ``'layer1.0'``. Defaults to
            None.
        identity_start (bool): Gate ``2 * sigmoid(.)`` with ``W2 = 0`` at
            init (the identity at init). Defaults to False (SENet's gate).
        **kwargs: Other arguments of ``SELayer``.
    """

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 divisor: int = 8,
                 name: Optional[str] = None,
                 identity_start: bool = False,
                 **kwargs):
        if not isinstance(reduction, int) or not 1 <= reduction <= in_channels:
            raise ValueError(f'SqueezeExcitation ({name}): reduction must be an int in [1, '
                             f'in_channels={in_channels}], got {reduction!r}')
        if not isinstance(identity_start, bool):
            raise ValueError(f'SqueezeExcitation ({name}): identity_start must be a bool, '
                             f'got {identity_start!r}')
        super().__init__(in_channels, ratio=reduction, divisor=divisor, **kwargs)
        self.name = name
        self.identity_start = identity_start
        self.gain = 2.0 if identity_start else 1.0

    def init_weights(self):
        """Upstream initialisation; with ``identity_start``, ``W2`` and its bias
        are then set to 0 (gate ``2 * sigmoid(0) = 1``)."""
        super().init_weights()
        if self.identity_start:
            nn.init.zeros_(self.conv2.conv.weight)
            nn.init.zeros_(self.conv2.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.conv2(self.conv1(self.global_avgpool(x)))  # (N, C, 1, 1), in (0, 1)
        return x * (gate * self.gain) if self.identity_start else x * gate


__all__ = ['SqueezeExcitation']
