"""Batch normalisation of sample attention representations (paper Eq. 10-12)."""
from typing import Tuple

import torch
import torch.distributed as dist

NORMALIZATIONS = ('softmax', 'scaled_softmax')


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums the gradients of every rank.

    Rank r's SARs enter every rank's softmax, so the gradient of the global
    loss w.r.t. them is the sum of what each rank's backward sends to slot r.
    Uses only ``all_gather``/``all_reduce``, which every backend (gloo, nccl)
    supports.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, rank: int, world_size: int):
        ctx.rank = rank
        out = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(out, tensor.contiguous())
        return torch.stack(out)  # (world_size, *tensor.shape)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank], None, None


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_global_batch(sar: torch.Tensor) -> Tuple[torch.Tensor, int]:
    """Concatenate the SARs of all processes, in rank order, with autograd.

    Ranks may hold different batch sizes (e.g. the last batch of an epoch).

    Args:
        sar (Tensor): Local SARs, shape (N_local,).

    Returns:
        tuple[Tensor, int]: The global SARs, shape (N_global,), and the offset
        of this rank's samples in them.
    """
    if not is_distributed():
        return sar, 0
    rank, world_size = dist.get_rank(), dist.get_world_size()
    size = torch.tensor([sar.numel()], device=sar.device)
    sizes = [torch.empty_like(size) for _ in range(world_size)]
    dist.all_gather(sizes, size)
    sizes = [int(s) for s in sizes]
    padded = sar.new_zeros(max(sizes))
    padded[:sar.numel()] = sar
    gathered = _AllGatherWithGrad.apply(padded, rank, world_size)  # (W, max N)
    global_sar = torch.cat([gathered[r, :n] for r, n in enumerate(sizes)])
    return global_sar, sum(sizes[:rank])


def batch_weights(sar: torch.Tensor,
                  normalize: str = 'softmax',
                  sync: bool = False) -> torch.Tensor:
    """Sample weights from the SARs of a batch (Eq. 11).

    Args:
        sar (Tensor): SARs of the local batch, shape (N,). Computed in fp32.
        normalize (str): ``'softmax'`` (Eq. 11: weights sum to 1, mean 1/N) or
            ``'scaled_softmax'`` (N * softmax: mean weight 1, so the feature
            scale seen in training matches inference, where BA2M is the
            identity). Defaults to ``'softmax'``.
        sync (bool): Normalise over the global batch of all processes.
            Falls back to the local batch when not distributed.

    Returns:
        Tensor: Weights of the local samples, shape (N,).
    """
    num_local = sar.numel()
    sar, offset = gather_global_batch(sar) if sync else (sar, 0)
    weights = torch.softmax(sar, dim=0)  # Eq. 11
    if normalize == 'scaled_softmax':
        weights = weights * sar.numel()
    return weights[offset:offset + num_local]


__all__ = ['NORMALIZATIONS', 'batch_weights', 'gather_global_batch', 'is_distributed']
