"""Batch normalisation of sample attention representations (paper Eq. 10-12)."""
import torch

from .global_batch import all_gather_with_grad, is_distributed

NORMALIZATIONS = ('softmax', 'scaled_softmax')


def batch_weights(sar: torch.Tensor,
                  normalize: str = 'softmax',
                  sync: bool = False) -> torch.Tensor:
    """Sample weights from the SARs of a batch (Eq. 11).

    With ``sync`` in a process group, the softmax runs over the SARs of every
    process without gathering them: each process shares its log-sum-exp and
    its sample count (two numbers, fixed size, differentiable), so batch
    sizes may differ between processes and no size is read on the host.

    Args:
        sar (Tensor): SARs of the local batch, shape (N,), fp32.
        normalize (str): ``'softmax'`` (Eq. 11: weights sum to 1, mean 1/N) or
            ``'scaled_softmax'`` (N * softmax: mean weight 1, so the feature
            scale seen in training matches inference, where BA2M is the
            identity). Defaults to ``'softmax'``.
        sync (bool): Normalise over the global batch of all processes.
            Falls back to the local batch when not distributed.

    Returns:
        Tensor: Weights of the local samples, shape (N,).
    """
    if not (sync and is_distributed()):
        weights = torch.softmax(sar, dim=0)  # Eq. 11
        return weights * sar.numel() if normalize == 'scaled_softmax' else weights
    local = torch.stack([torch.logsumexp(sar, dim=0), sar.new_full((), sar.numel())])  # (2,)
    gathered = all_gather_with_grad(local)  # (world_size, 2)
    weights = torch.exp(sar - torch.logsumexp(gathered[:, 0], dim=0))  # Eq. 11, global batch
    return weights * gathered[:, 1].sum() if normalize == 'scaled_softmax' else weights


__all__ = ['NORMALIZATIONS', 'batch_weights']
