"""Each BA2M branch read alone: its ``reference(x)`` (Eq. 6, 7, 8 computed directly from the
feature map) against the fused path BA2M runs (one projection of x for every branch's first
layer, then each branch's ``forward``): the same pooled responses before the branch BN, and
the same gradients, on small inputs in float64."""
import pytest
import torch
import torch.nn.functional as F

from ba2m_mm.models.layers import (BA2M, ChannelAttention, GlobalSpatialAttention,
                                   LocalSpatialAttention)

C, D = 8, 4


def fused_alone(branch, x):
    """The fused path with the branch's own projection: pooled hidden units @ W^T, (N, C)."""
    weight, biases = branch.projection()
    projected = F.conv2d(x, weight[..., None, None], torch.cat(biases)).flatten(2)
    pooled, last, _ = branch(*projected.split(branch.projection_sizes, dim=1), x.shape[2:])
    return pooled @ last.T


def grads(output, inputs, seed=1):
    probe = torch.randn(
        output.shape, generator=torch.Generator().manual_seed(seed), dtype=output.dtype)
    return torch.autograd.grad((output * probe).sum(), inputs)


def branches():
    torch.manual_seed(0)
    return [
        ChannelAttention(C, D),
        LocalSpatialAttention(C, D),
        GlobalSpatialAttention(C, D, mode='exact'),
        GlobalSpatialAttention(C, D, groups=2, mode='exact'),
    ]


@pytest.mark.parametrize('index', range(4), ids=['channel', 'local', 'global', 'global_g2'])
def test_fused_branch_equals_its_reference(index):
    branch = branches()[index].double()
    torch.manual_seed(1)
    with torch.no_grad():  # non-zero query bias, so that it is checked too
        for p in branch.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(3, C, 5, 6, dtype=torch.float64, requires_grad=True)
    inputs = [x, *branch.parameters()]
    reference, fused = branch.reference(x), fused_alone(branch, x)
    assert reference.shape == (3, C)
    torch.testing.assert_close(fused, reference, rtol=1e-10, atol=1e-12)
    for got, want in zip(grads(fused, inputs), grads(reference, inputs)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_ba2m_runs_the_branches_as_their_references():
    """Inside BA2M (one convolution for the three branches' first layers; BA2M computes the
    responses in float32)."""
    torch.manual_seed(0)
    ba2m = BA2M(C, reduction=2, gsa_mode='exact')
    x = torch.randn(4, C, 5, 5, requires_grad=True)
    pooled, weight, _ = ba2m._branch_outputs(x)  # (B, N, d), (B, C, d)
    fused = pooled @ weight.transpose(1, 2)  # (B, N, C)
    reference = torch.stack([branch.reference(x) for branch in ba2m.branch_modules])
    inputs = [x, *(p for branch in ba2m.branch_modules for p in branch.parameters())]
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-6)
    for got, want in zip(grads(fused, inputs), grads(reference, inputs)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
