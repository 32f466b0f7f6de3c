"""The BatchNorm that ends every BA2M branch (paper Eq. 6-7), batch-size independent."""
from typing import Optional

import torch
import torch.nn as nn

from .global_batch import is_distributed, sum_over_processes


def normalised_responses(pooled: torch.Tensor, weight: torch.Tensor, gamma: torch.Tensor,
                         beta: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor) -> tuple:
    """BN(W h) of every branch, for given statistics of z = W h.

    Args:
        pooled (Tensor): Pooled hidden units h, shape (B, N, d).
        weight (Tensor): W, shape (B, C, d).
        gamma, beta (Tensor): BN's affine parameters, shape (B, C).
        mean, rstd (Tensor): Mean and reciprocal standard deviation of z,
            shape (B, C).

    Returns:
        tuple[Tensor]: The responses, (B, N, C); BN's per-channel scale
        gamma * rstd, (B, C); W scaled by it, (B, C, d).
    """
    num_branches, channels = gamma.shape
    scale = gamma * rstd  # (B, C)
    scaled_weight = weight * scale.view(num_branches, channels, 1)  # (B, C, d)
    shift = (beta - mean * scale).view(num_branches, 1, channels)
    # gamma (W h - mean) rstd + beta as one product per branch
    responses = torch.baddbmm(shift, pooled, scaled_weight.transpose(1, 2))  # (B, N, C)
    return responses, scale, scaled_weight


class ResponseNorm(nn.Module):
    """BatchNorm of the branches' C-channel responses z = W h, with the statistics it is given.

    Each BA2M branch ends in ``z = W h`` (``W``: a 1x1 conv or FC to C
    channels, ``h``: its d = C/R hidden units) followed by BatchNorm (Eq. 6
    and 7), and only GAP(BN(z)) enters the SAR (Eq. 9). This layer holds that
    BN for every branch (one row per branch): gamma, beta and the running
    statistics. What it normalises with in training is chosen by the caller
    (:class:`BA2M`'s ``statistics``), which passes the mean and 1/std to
    :meth:`forward`; without them it uses the running statistics, as BN in
    eval mode. BA2M's default, ``'running_with_batch'``, first adds the batch
    (:meth:`update`), then normalises with the running statistics: the first
    training batch is standardised against itself alone, the k-th with
    weight 1/k, and from the ``1 / momentum``-th on with weight momentum.
    Standardised against itself, any per-sample response of N = 2 samples
    becomes the mirror images ``(z_1 - z_2) / 2`` and ``-(z_1 - z_2) / 2``,
    which division by their (unbiased) std turns into +-1/sqrt(2) in every
    channel of A_C (BN over N): with ``'batch'`` at every step the SARs would
    carry sign patterns only (every detection config trains 2 images per
    GPU). With ``'running'`` (the batches before only) the first forward
    uses the prior and the second the variance of a single batch. In every
    choice the statistics are constants to autograd (:meth:`batch_moments`
    runs without gradient), unlike those of BN in training.

    :meth:`update` adds each batch (before BA2M normalises it by default,
    after with ``'running'``), over the domain the paper's BN uses: the batch
    for A_C (Eq. 6) and A_GS, the batch and every position for A_LS (Eq. 7,
    BN over N x H x W). For a map ``z = W y`` the
    statistics over N x H x W follow from the mean and the d x d second moment
    of ``y``: the C-channel map never has to exist. The first update replaces
    the prior (mean 0, variance 1), the next ones average cumulatively until
    ``1 / momentum`` batches were seen, then exponentially, as BN's.

    Args:
        num_branches (int): Branches B.
        out_channels (int): Channels C of the responses.
        momentum (float): Weight of a new batch in the running statistics
            once ``1 / momentum`` batches were seen. Defaults to 0.1 (BN's).
        eps (float): Lower bound of the variance. Defaults to 1e-5.
        init_gamma (float): Initial gamma of every branch. 0 makes every
            response beta = 0 at initialisation, hence every SAR equal and
            every BA2M weight exactly 1. Defaults to 1.0 (BN's).
        strength (float): Applied gamma and beta are ``strength`` times the
            parameters (:meth:`affine`). Defaults to 1.0.
    """

    def __init__(self,
                 num_branches: int,
                 out_channels: int,
                 momentum: float = 0.1,
                 eps: float = 1e-5,
                 init_gamma: float = 1.0,
                 strength: float = 1.0):
        super().__init__()
        self.momentum = momentum
        self.strength = float(strength)
        self.eps = eps
        self.init_gamma = init_gamma
        self.weight = nn.Parameter(torch.full((num_branches, out_channels), float(init_gamma)))
        self.bias = nn.Parameter(torch.zeros(num_branches, out_channels))  # beta
        self.register_buffer('running_mean', torch.zeros(num_branches, out_channels))
        self.register_buffer('running_var', torch.ones(num_branches, out_channels))
        self.register_buffer('num_batches_tracked', torch.zeros(()))
        # a tensor 1 for the counter: adding a Python 1 costs a host-side scalar tensor per step
        self.register_buffer('one', torch.ones(()), persistent=False)
        self.register_buffer(
            'channel_mean', torch.full((out_channels, ), 1 / out_channels),
            persistent=False)  # mean over C as a product

    def reset_parameters(self):
        nn.init.constant_(self.weight, self.init_gamma)
        nn.init.zeros_(self.bias)

    def affine(self) -> tuple:
        """gamma and beta as applied: ``strength`` times the parameters (B, C) each.

        The parameters hold gamma / strength and beta / strength: with SGD their
        updates move the applied gamma and beta strength^2 times as fast (as an lr
        multiplier of strength^2 would, but under any lr schedule), the same
        function class and the same start (gamma = 0: the identity).
        """
        if self.strength == 1:
            return self.weight, self.bias
        return self.weight * self.strength, self.bias * self.strength

    def running_rstd(self) -> torch.Tensor:
        """1 / sqrt(max(running_var, eps)), shape (B, C)."""
        return self.running_var.clamp(min=self.eps).rsqrt_()

    def forward(self,
                pooled: torch.Tensor,
                weight: torch.Tensor,
                mean: Optional[torch.Tensor] = None,
                rstd: Optional[torch.Tensor] = None) -> torch.Tensor:
        """GAP(BN(W h)) = BN(W GAP(h)), as W and BN are affine.

        Args:
            pooled (Tensor): Spatially averaged hidden units, shape (B, N, d).
            weight (Tensor): W of every branch, shape (B, C, d).
            mean, rstd (Tensor, optional): Statistics of z = W h to normalise
                with, (B, C) each. Defaults to None: the running ones.

        Returns:
            Tensor: The normalised responses, shape (B, N, C), fp32.
        """
        if mean is None:
            mean, rstd = self.running_mean, self.running_rstd()
        with torch.autocast(pooled.device.type, enabled=False):
            return normalised_responses(pooled.float(), weight.float(), *self.affine(), mean,
                                        rstd)[0]

    @torch.no_grad()
    def batch_moments(self,
                      pooled: torch.Tensor,
                      weight: torch.Tensor,
                      spatial: Optional[dict] = None,
                      sync: bool = False) -> tuple:
        """Mean and unbiased variance of z = W h over the paper's BN domain.

        Args:
            pooled (Tensor): Spatially averaged hidden units, (B, N, d), fp32.
            weight (Tensor): W of every branch, (B, C, d), fp32.
            spatial (dict, optional): ``{b: (y, W_b)}`` for each branch b
                whose BN runs over N x H x W: its hidden map y (N, d, H*W) and
                its W (C, d).
            sync (bool): Use the global batch of all processes.

        Returns:
            tuple[Tensor]: mean and variance, (B, C) each, no gradient.
        """
        with torch.autocast(pooled.device.type, enabled=False):
            z = torch.bmm(pooled, weight.transpose(1, 2))  # (B, N, C) = W h
            spatial = spatial or {}
            if sync and is_distributed():
                return self._global_moments(z, spatial)
            var, mean = torch.var_mean(z, dim=1)  # (B, C) each, unbiased
            for b, (y, w) in spatial.items():
                # E[z] over every position is the batch mean of the spatial means,
                # as above; the variance needs the squares over every position
                count, mean_b = y.size(0) * y.size(2), mean[b]
                squares = self._sum_of_squares(y, w)
                var[b] = squares.addcmul_(mean_b, mean_b, value=-count).div_(count - 1)
            return mean, var

    @torch.no_grad()
    def update(self, mean: torch.Tensor, var: torch.Tensor):
        """Add a batch's moments (:meth:`batch_moments`) to the running statistics:
        cumulative average of the first ``1 / momentum`` batches, then momentum."""
        # 1, 1/2, ..., 1/k (cumulative average of the first k batches), then momentum
        step = self.num_batches_tracked.add_(self.one).reciprocal().clamp_(min=self.momentum)
        self.running_mean.lerp_(mean, step)
        self.running_var.lerp_(var, step)

    @staticmethod
    def _sum_of_squares(y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Sum of z^2 over N x H x W for the map z = W y, without the map:
        ``diag(W (sum y y^T) W^T)``, shape (C,), for y (N, d, H*W), W (C, d)."""
        y = y if y.dtype == torch.float32 else y.float()
        second = torch.bmm(y, y.transpose(1, 2)).sum(dim=0)  # (d, d)
        return (torch.mm(weight, second) * weight).sum(dim=1)

    @classmethod
    def _global_moments(cls, z: torch.Tensor, spatial: dict) -> tuple:
        """Mean and unbiased variance over every process's samples (and positions)."""
        total, squares = z.sum(dim=1), (z * z).sum(dim=1)  # (B, C) each
        count = z.new_full((z.size(0), 1), z.size(1))  # (B, 1); may differ between processes
        for b, (y, w) in spatial.items():
            total[b] = w @ y.float().sum(dim=(0, 2))
            squares[b] = cls._sum_of_squares(y, w)
            count[b] = y.size(0) * y.size(2)
        sums = sum_over_processes(torch.cat([total, squares, count], dim=1))
        total, squares, count = sums.split([z.size(2), z.size(2), 1], dim=1)
        mean = total / count
        return mean, (squares - mean * total) / (count - 1).clamp(min=1)

    def extra_repr(self) -> str:
        num_branches, out_channels = self.weight.shape
        return (f'num_branches={num_branches}, out_channels={out_channels}, '
                f'momentum={self.momentum}, eps={self.eps}, init_gamma={self.init_gamma}')
