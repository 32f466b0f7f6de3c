"""Sample attention representation (SAR, paper Eq. 9) from the branches' hidden units.

The tail of every branch (its last linear layer W and its BN, which uses running
statistics) and Eq. 9 (max over branches, mean over channels) run as one autograd node:
on GPUs a BA2M training step is bound by the number of kernels it launches, not by its
FLOPs. The gradient is written out below and checked against autograd in the tests.
"""
from typing import Optional

import torch

from .response_norm import ResponseNorm, normalised_responses


class SampleAttention(torch.autograd.Function):
    """SAR_n = mean_c max_b BN_b(W_b h_bn)_c (Eq. 9), BN with given statistics.

    Forward inputs: ``gamma``, ``beta`` (B, C), the mean and the reciprocal
    standard deviation of z = W h (B, C), the pooled hidden units h (B, N, d), the weights W
    (B, C, d) and ``channel_mean``, a (C,) vector of 1/C. Outputs: the SARs
    (N,) and, not differentiable, the normalised responses (B, N, C). Where
    two branches tie for a max, both get its gradient.
    """

    @staticmethod
    def forward(ctx, gamma, beta, mean, rstd, pooled, weight, channel_mean):
        responses, scale, scaled_weight = normalised_responses(pooled, weight, gamma, beta, mean,
                                                               rstd)  # (B, N, C)
        mean_rstd = mean * rstd  # (B, C): for gamma's gradient; mean changes in place later
        strongest = responses.amax(dim=0)  # (N, C), Eq. 9 max
        won = torch.eq(responses, strongest).to(responses.dtype)  # (B, N, C): 1 where b won
        ctx.save_for_backward(pooled, weight, scaled_weight, scale, mean_rstd, rstd, won,
                              channel_mean)
        ctx.mark_non_differentiable(responses)
        ctx.set_materialize_grads(False)
        return torch.mv(strongest, channel_mean), responses  # (N,) Eq. 9 mean over C

    @staticmethod
    def backward(ctx, grad_sar, grad_responses):
        if grad_sar is None:
            return (None, ) * 7
        pooled, weight, scaled_weight, scale, mean_rstd, rstd, won, channel_mean = ctx.saved_tensors
        grad_z = won * (grad_sar.view(-1, 1) * channel_mean)  # (B, N, C), d SAR / d z = 1/C
        grad_scaled_weight = torch.bmm(grad_z.transpose(1, 2), pooled)  # (B, C, d)
        grad_beta = grad_z.sum(dim=1)  # (B, C)
        grad_gamma = (grad_scaled_weight * weight).sum(dim=2) * rstd - grad_beta * mean_rstd
        return (grad_gamma, grad_beta, None, None, torch.bmm(grad_z, scaled_weight),
                grad_scaled_weight * scale.view(*scale.shape, 1), None)


def sample_attention(norm: ResponseNorm,
                     pooled: torch.Tensor,
                     weight: torch.Tensor,
                     mean: Optional[torch.Tensor] = None,
                     rstd: Optional[torch.Tensor] = None) -> tuple:
    """SARs of Eq. 9 from the branches' pooled hidden units h and last layers
    W, with the BN ``norm``, as one autograd node.

    Args:
        norm (ResponseNorm): The BN of the branches (gamma, beta).
        pooled (Tensor): h of every branch, shape (B, N, d), fp32.
        weight (Tensor): W of every branch, shape (B, C, d), fp32.
        mean, rstd (Tensor, optional): Statistics of z = W h to normalise
            with, (B, C) each. Defaults to None: ``norm``'s running ones.

    Returns:
        tuple[Tensor]: The SARs, (N,) fp32, and the normalised responses
        (B, N, C), without gradient.
    """
    with torch.autocast(pooled.device.type, enabled=False):
        if mean is None:
            mean, rstd = norm.running_mean, norm.running_rstd()
        return SampleAttention.apply(*norm.affine(), mean, rstd, pooled, weight, norm.channel_mean)
