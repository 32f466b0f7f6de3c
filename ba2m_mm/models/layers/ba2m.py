"""Batch Aware Attention Module (BA2M), paper Section III-B."""
import math
import warnings
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .batch_weights import NORMALIZATIONS, batch_weights
from .branch_names import BRANCHES, check_branches
from .channel_attention import ChannelAttention
from .global_batch import is_distributed
from .global_spatial import GlobalSpatialAttention
from .local_spatial import LocalSpatialAttention
from .response_norm import ResponseNorm
from .sample_attention import sample_attention

# Statistics the branch BN normalises with in training (see the class docs).
STATISTICS = ('running', 'batch', 'running_with_batch')
# Attribute that holds each branch, named after the paper.
BRANCH_MODULES = {
    'channel': 'channel_attention',
    'local': 'local_spatial',
    'global': 'global_spatial'
}


@MODELS.register_module()
class BA2M(BaseModule):
    """Batch Aware Attention Module.

    For every sample x_i of the batch, three attention branches give a pooled
    response in R^C: channel attention A_C (Eq. 6), local spatial
    GAP(A_LS) (Eq. 7) and global spatial GAP(A_GS) (Eq. 8). Their channel-wise
    max, averaged over channels, is the sample attention representation
    (SAR, Eq. 9). The SARs of the batch are normalised by a softmax (Eq. 11)
    and every feature map is multiplied by its weight (Eq. 13)::

        x_hat_i = w_i * x_i,  w = softmax([A(x_1), ..., A(x_N)])

    Train/eval contract: in eval mode BA2M is the identity (the paper
    deactivates it at inference), so predictions never depend on which images
    share a batch and inference costs nothing. In training, a batch of one
    sample gets weight 1 (with a warning, once).

    Choices where the paper is open (see docs/implementation_notes.md):

    - d = C // R hidden channels; ReLU between the layers of the channel and
      local branches.
    - Each branch ends in the BN the paper gives A_C and A_LS: over the batch
      for A_C (Eq. 6) and A_GS, over N x H x W for A_LS (Eq. 7)
      (:class:`ResponseNorm`). In training it normalises by default with the
      running statistics after adding the batch
      (``statistics='running_with_batch'``): the k-th training forward gives
      its own batch a weight of 1/k (cumulative average) while
      k <= 1 / momentum, then momentum. So the first forward normalises a
      batch with its own statistics alone, exactly as ``'batch'``: at N = 2
      its two responses are mirror images (r_2 = -r_1 in every branch and
      channel before gamma and beta; +-1/sqrt(2) in every channel of A_C, the
      variance being unbiased; with gamma = 1, weights 1.04 / 0.96 measured
      on two 64-channel maps). With ``zero_init`` gamma is 0 at that
      forward, so every weight is 1 anyway. From the second forward on
      the batches before weigh at least half, and the prior (mean 0,
      variance 1) is never used. In every choice the statistics are
      constants to autograd (no gradient through them, unlike BN).
    - Start as the identity (``zero_init``): gamma of the branch BN starts at
      0, every weight is exactly 1 until gamma learns (at full strength, one
      of N = 128 CIFAR photos carried the whole batch from the first step).
    - Global branch: grouped 1x1 f, g, h with ``groups = gcd(R, d, C)``
      (R when C >= R^2 and R is a power of two, as Eq. 16 assumes), softmax
      scaled by 1/sqrt(d), and a grouped 1x1 projection d -> C.
    - The input is read once, by one 1x1 convolution holding the first layer
      of every branch (FC0, g0, f, g, h); BN and Eq. 9 run as one autograd node
      (:class:`SampleAttention`). On GPUs a BA2M step is bound by the number
      of kernels, not by FLOPs.
    - SARs, the max and the softmax are computed in fp32 under autocast; the
      convolutions and the attention run in the autocast dtype.
    - No host-device synchronisation in a training step (``torch.compile``
      captures it as one graph): non-finite SARs raise a ``ValueError`` naming
      the BA2M at the next check (:meth:`check_finite`), every
      ``finite_check_interval`` training forwards.

    Parameters, with d = C // R, G the global-branch groups and B the number
    of branches (the BN's gamma and beta: 2C per branch)::

        channel: 2Cd + d
        local:   2Cd + 9d^2 + 2d
        global:  4Cd/G + d
        BN:      2CB

    Args:
        in_channels (int): Channels C of the input feature map.
        reduction (int): Reduction ratio R. Defaults to 32 (paper Table VIII).
        branches (Sequence[str]): Non-empty subset of
            ``('channel', 'local', 'global')`` (Table IX ablation).
            Defaults to all three.
        normalize (str): ``'scaled_softmax'`` (N * softmax, mean weight 1)
            or ``'softmax'`` (Eq. 11, weights sum to 1). Defaults to
            ``'scaled_softmax'``: with the paper's softmax every feature map
            is ~N times smaller in training than at inference, where BA2M is
            the identity (demo: 0.000 bbox mAP; CIFAR-10: chance).
        sync (bool): Use the global batch of all processes: the softmax over
            every process's SARs, and the branch statistics from every
            process's samples. Defaults to False.
        momentum (float): Weight of a new batch in the branches' running
            statistics, see :class:`ResponseNorm`. Defaults to 0.1.
        statistics (str): What the branch BN normalises with in training:
            ``'running'`` (the running statistics of the batches before this
            one; the first forward uses the prior), ``'batch'`` (this batch's
            mean and variance, as BN in training but without their gradient:
            they are constants to autograd, as in the other choices) or
            ``'running_with_batch'`` (the running statistics after adding
            this batch; at the first forward, this batch's alone). Defaults
            to ``'running_with_batch'``.
        zero_init (bool): Start as the identity: gamma of the branch BN is 0
            at initialisation, so every weight is exactly 1. Defaults to True.
        strength (float): How fast BA2M leaves the identity: the branch BN
            applies ``strength`` times its parameters gamma and beta, so SGD
            moves the applied values strength^2 times as fast (an lr multiplier
            that survives any lr schedule). gamma's gradient is small (the SAR
            averages over C channels): at 1, the weights' std stays ~0.01 in a
            CIFAR-10 epoch. Defaults to 1.0 (see docs/cifar10.md).
        gsa_mode (str): ``'auto'``, ``'exact'`` or ``'sampled'``; see
            :class:`GlobalSpatialAttention`. Defaults to ``'auto'``.
        gsa_num_samples (int): Query positions sampled by the global branch.
            Defaults to 256.
        gsa_exact_max_positions (int, optional): Largest H*W computed exactly
            in ``'auto'`` mode whatever the batch. Defaults to None (a budget
            by device and dtype, see :class:`GlobalSpatialAttention`).
        gsa_groups (int, optional): Groups of the global branch's 1x1 convs.
            Defaults to None (``gcd(R, d, C)``).
        finite_check_interval (int): Training forwards between two checks for
            non-finite SARs (each check waits for the device). Defaults to 50.
        name (str, optional): Name used in messages, e.g. ``'layer2'``.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Example:
        >>> import torch
        >>> ba2m = BA2M(64, reduction=16).train()
        >>> x = torch.rand(4, 64, 8, 8)
        >>> y = ba2m(x)
        >>> y.shape
        torch.Size([4, 64, 8, 8])
        >>> ba2m.last_weights  # zero_init: the identity until gamma learns
        tensor([1., 1., 1., 1.])
        >>> torch.equal(ba2m.eval()(x), x)  # identity at inference
        True
    """

    def __init__(self,
                 in_channels: int,
                 reduction: int = 32,
                 branches: Sequence[str] = BRANCHES,
                 normalize: str = 'scaled_softmax',
                 sync: bool = False,
                 momentum: float = 0.1,
                 statistics: str = 'running_with_batch',
                 zero_init: bool = True,
                 strength: float = 1.0,
                 gsa_mode: str = 'auto',
                 gsa_num_samples: int = 256,
                 gsa_exact_max_positions: Optional[int] = None,
                 gsa_groups: Optional[int] = None,
                 finite_check_interval: int = 50,
                 name: Optional[str] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        where = f' ({name})' if name else ''
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'BA2M{where}: in_channels must be an int >= 1, got {in_channels!r}')
        if not isinstance(reduction, int) or not 1 <= reduction <= in_channels:
            raise ValueError(
                f'BA2M{where}: reduction must be an int in [1, in_channels={in_channels}], '
                f'got {reduction!r}')
        check_branches(branches, f'BA2M{where}')
        if normalize not in NORMALIZATIONS:
            raise ValueError(
                f'BA2M{where}: normalize must be one of {NORMALIZATIONS}, got {normalize!r}')
        if not isinstance(momentum, (int, float)) or not 0 < momentum <= 1:
            raise ValueError(f'BA2M{where}: momentum must be a number in (0, 1], got {momentum!r}')
        if statistics not in STATISTICS:
            raise ValueError(
                f'BA2M{where}: statistics must be one of {STATISTICS}, got {statistics!r}')
        if not isinstance(zero_init, bool):
            raise ValueError(f'BA2M{where}: zero_init must be a bool, got {zero_init!r}')
        if not isinstance(strength,
                          (int, float)) or isinstance(strength, bool) or not (0 < strength <= 100):
            raise ValueError(f'BA2M{where}: strength must be a number in (0, 100], got '
                             f'{strength!r}')
        if not isinstance(finite_check_interval, int) or finite_check_interval < 1:
            raise ValueError(f'BA2M{where}: finite_check_interval must be an int >= 1, got '
                             f'{finite_check_interval!r}')
        self.in_channels = in_channels
        self.reduction = reduction
        self.branches = tuple(b for b in BRANCHES if b in branches)
        self.normalize = normalize
        self.sync = sync
        self.statistics = statistics
        self.zero_init = zero_init
        self.finite_check_interval = finite_check_interval
        self.name = name
        hidden = in_channels // reduction
        if gsa_groups is None:
            gsa_groups = math.gcd(math.gcd(reduction, hidden), in_channels)
        if 'channel' in self.branches:
            self.channel_attention = ChannelAttention(in_channels, hidden)
        if 'local' in self.branches:
            self.local_spatial = LocalSpatialAttention(in_channels, hidden)
        if 'global' in self.branches:
            try:
                self.global_spatial = GlobalSpatialAttention(in_channels, hidden, gsa_groups,
                                                             gsa_mode, gsa_num_samples,
                                                             gsa_exact_max_positions)
            except ValueError as e:
                raise ValueError(f'BA2M{where}: {e}') from e
        # The BN ending each branch (Eq. 6-7), one row per branch
        # gamma = 0 (zero_init): every response is beta = 0, every weight 1 (the identity)
        self.bn = ResponseNorm(
            len(self.branches),
            in_channels,
            momentum,
            init_gamma=0.0 if zero_init else 1.0,
            strength=strength)
        self.strength = strength
        self.last_weights = None  # (N,) weights of the last training batch
        self.last_responses = None  # (B, N, C) branch responses of the last training batch
        self._forwards = 0
        self._warned_batch1 = False

    def init_weights(self):
        super().init_weights()
        if self.init_cfg is not None:
            return
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode='fan_in', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.bn.reset_parameters()

    @property
    def branch_modules(self) -> List[nn.Module]:
        """The enabled branches, in the order of :attr:`branches`."""
        return [getattr(self, BRANCH_MODULES[b]) for b in self.branches]

    @property
    def last_branch_share(self) -> Optional[torch.Tensor]:
        """Share of the channel-wise max of Eq. 9 won by each branch in the
        last training batch, shape (num branches,); computed when asked."""
        if self.last_responses is None:
            return None
        winner = self.last_responses.argmax(dim=0).flatten()  # (N * C,)
        return F.one_hot(winner, len(self.branches)).float().mean(dim=0)

    def project(self, x: torch.Tensor) -> list:
        """The first 1x1 layer of every branch as one convolution: one read of x.

        Returns:
            list[tuple[Tensor]]: For each branch, its projected maps
            (N, k, H*W), views of one (N, sum k, H*W) tensor.
        """
        branches = self.branch_modules
        weights, biases = zip(*(branch.projection() for branch in branches))
        weight = torch.cat(weights)  # (sum k, C)
        bias = torch.cat([b for branch_biases in biases for b in branch_biases])  # (sum k,)
        projected = F.conv2d(x, weight.view(*weight.shape, 1, 1), bias)
        parts = iter(
            projected.view(*projected.shape[:2],
                           -1).split([k for branch in branches for k in branch.projection_sizes],
                                     dim=1))
        return [tuple(next(parts) for _ in branch.projection_sizes) for branch in branches]

    def _branch_outputs(self, x: torch.Tensor) -> tuple:
        """The branches' pooled hidden units h (B, N, d) and last layers W
        (B, C, d), fp32, and ``{b: (y, W_b)}``: the hidden map (N, d, H*W) and
        W of each branch b whose BN runs over N x H x W."""
        size = x.shape[2:]
        pooled, weights, maps = zip(
            *(branch(*projected, size)
              for branch, projected in zip(self.branch_modules, self.project(x))))
        with torch.autocast(x.device.type, enabled=False):
            pooled, weight = torch.stack(pooled), torch.stack(weights)
            if pooled.dtype != torch.float32:
                pooled, weight = pooled.float(), weight.float()
        return pooled, weight, {b: m for b, m in enumerate(maps) if m is not None}

    def _statistics(self, pooled: torch.Tensor, weight: torch.Tensor, maps: dict) -> tuple:
        """Mean and 1/std of z = W h that the branch BN normalises with, (B, C)
        each; in training this also adds the batch to the running statistics.

        ``'running'``: the running statistics of the batches before this one;
        ``'batch'``: this batch's; ``'running_with_batch'``: the running
        statistics after adding this batch. Treated as constants by autograd.
        """
        bn = self.bn
        if not self.training:
            return bn.running_mean, bn.running_rstd()
        mean, var = bn.batch_moments(pooled, weight, maps, self.sync)
        if self.statistics == 'batch':
            bn.update(mean, var)
            return mean, var.clamp(min=bn.eps).rsqrt()
        if self.statistics == 'running':
            stats = bn.running_mean.clone(), bn.running_rstd()
            bn.update(mean, var)
            return stats
        bn.update(mean, var)  # 'running_with_batch'
        return bn.running_mean, bn.running_rstd()

    def branch_responses(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled responses of the enabled branches, shape (B, N, C), fp32.

        In training mode this also adds the batch to the running statistics
        of BN (summed over processes with ``sync``), as BN does.
        """
        pooled, weight, maps = self._branch_outputs(x)
        mean, rstd = self._statistics(pooled, weight, maps)
        return self.bn(pooled, weight, mean, rstd)  # (B, N, C)

    def sample_attention(self, x: torch.Tensor) -> torch.Tensor:
        """SAR of every sample (Eq. 9): mean_c max(A_C, A'_LS, A'_GS), (N,), fp32.

        In training mode this also adds the batch to BN's running statistics.
        """
        pooled, weight, maps = self._branch_outputs(x)
        mean, rstd = self._statistics(pooled, weight, maps)
        sar, self.last_responses = sample_attention(self.bn, pooled, weight, mean, rstd)
        return sar

    def check_finite(self):
        """Raise a ``ValueError`` naming this BA2M if the weights of its last
        training batch are not finite (one non-finite SAR makes every weight of
        the batch softmax NaN). Waits for the device."""
        weights = self.last_weights
        if weights is not None and not math.isfinite(float(weights.sum())):
            where = f' ({self.name})' if self.name else ''
            raise ValueError(
                f'BA2M{where}: non-finite sample attention (SAR) values in training '
                f'(batch weights={weights.cpu().tolist()}); the input feature map or the BA2M '
                'weights contain NaN/Inf. Lower the learning rate or enable gradient '
                'clipping.')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        where = f' ({self.name})' if self.name else ''
        if x.dim() != 4:
            raise ValueError(
                f'BA2M{where} expects a 4-D (N, C, H, W) input, got shape {tuple(x.shape)}')
        if x.size(1) != self.in_channels:
            raise ValueError(f'BA2M{where}: input has {x.size(1)} channels but in_channels='
                             f'{self.in_channels}')
        if not self.training:
            return x  # deactivated at inference (Section III-D)
        if x.size(0) == 1 and not (self.sync and is_distributed()):
            if not self._warned_batch1:
                warnings.warn(f'BA2M{where}: training batch of 1 sample; its weight is 1 and BA2M '
                              'does nothing. Use at least 2 samples per batch (or sync=True).')
                self._warned_batch1 = True
            return x
        sar = self.sample_attention(x)  # Eq. 9-10, (N,) fp32
        with torch.autocast(x.device.type, enabled=False):
            weights = batch_weights(sar, self.normalize, self.sync)  # Eq. 11, (N,)
        self.last_weights = weights.detach()
        if not torch.compiler.is_compiling():
            self._forwards += 1
            if self._forwards % self.finite_check_interval == 0:
                self.check_finite()
        if weights.dtype != x.dtype:
            weights = weights.to(x.dtype)
        return x * weights.view(-1, 1, 1, 1)  # Eq. 13
