"""The forward hooks that apply BA2M inside an upstream backbone.

Hooks are plain objects holding their BA2M, so ``copy.deepcopy`` (EMA models)
maps them to the copied BA2M, and pickling works (see
:mod:`.ba2m_stages_mixin` for why BA2M is applied by hooks).
"""
import torch
import torch.nn as nn


class BA2MHook:
    """Forward hook that weights its module's output by the module's BA2M: on a stage, its
    output ``F_i(x)`` becomes ``w_i * F_i(x)`` (Eq. 15, BA2M between stages, Fig. 4d); on
    the last module of a residual branch (e.g. ``norm3`` of a ResNet Bottleneck, ``conv`` of
    a MobileNetV2 InvertedResidual), the branch output is weighted before the identity is
    added (Fig. 4c).

    Args:
        ba2m (nn.Module): The BA2M after the stage, or of the block.
    """

    def __init__(self, ba2m: nn.Module):
        self.ba2m = ba2m

    def __call__(self, module: nn.Module, args, out: torch.Tensor) -> torch.Tensor:
        return self.ba2m(out)  # (N, C, H, W), w_i * F_i(x) or w_i * residual_i


def _attach_ba2m_hooks(backbone: nn.Module, args) -> None:
    """Forward pre-hook of the backbone (module level, so it deep-copies and pickles)."""
    backbone.attach_ba2m_hooks()
