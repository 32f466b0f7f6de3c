"""Collectives that let BA2M see the global batch of all processes (``sync=True``).

Fixed-size tensors only: nothing here reads a value on the host, so a training step
never waits for the device (no ``.item()``, no data-dependent sizes).
"""
import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """Whether a process group of more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums the gradients of every rank.

    Rank r's tensor enters every rank's loss, so the gradient of the global
    loss w.r.t. it is the sum of what each rank's backward sends to slot r.
    Uses only ``all_gather``/``all_reduce``, which every backend supports.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rank = dist.get_rank()
        out = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(out, tensor.contiguous())
        return torch.stack(out)  # (world_size, *tensor.shape)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank]


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Stack ``tensor`` of every process in rank order, differentiably.

    Args:
        tensor (Tensor): The same shape on every process.

    Returns:
        Tensor: Shape (world_size, *tensor.shape).
    """
    return _AllGatherWithGrad.apply(tensor)


@torch.no_grad()
def sum_over_processes(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over all processes, in place (no gradient)."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


__all__ = ['is_distributed', 'all_gather_with_grad', 'sum_over_processes']
