"""Batch Aware Attention Module (BA2M), paper Section III-B."""
import math
import warnings
from contextlib import contextmanager
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from .batch_weights import NORMALIZATIONS, batch_weights, is_distributed
from .channel_attention import ChannelAttention
from .global_spatial import GlobalSpatialAttention
from .local_spatial import LocalSpatialAttention

BRANCHES = ('channel', 'local', 'global')
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

    Choices where the paper is open (see README "Implementation notes"):

    - d = C // R hidden channels; ReLU between the layers of the channel and
      local branches.
    - Each branch ends in a BatchNorm1d over its pooled (N, C) response, so
      the three inputs of the max have zero mean and unit variance over the
      batch at initialisation; none of them always loses the max.
    - Global branch: grouped 1x1 f, g, h with ``groups = gcd(R, d, C)``
      (R when C >= R^2 and R is a power of two, as Eq. 16 assumes), softmax
      scaled by 1/sqrt(d), and a grouped 1x1 projection d -> C.
    - SARs, the max and the softmax are computed in fp32 under autocast.

    Parameters, with d = C // R and G the global-branch groups::

        channel: 2Cd + d + 2C
        local:   2Cd + 9d^2 + 2d + 2C
        global:  4Cd/G + d + 2C

    Args:
        in_channels (int): Channels C of the input feature map.
        reduction (int): Reduction ratio R. Defaults to 32 (paper Table VIII).
        branches (Sequence[str]): Non-empty subset of
            ``('channel', 'local', 'global')`` (Table IX ablation).
            Defaults to all three.
        normalize (str): ``'scaled_softmax'`` (N * softmax, mean weight 1)
            or ``'softmax'`` (Eq. 11, weights sum to 1). Defaults to
            ``'scaled_softmax'``: BA2M is the identity at inference, so with
            the paper's softmax every feature map is ~N times smaller in
            training than at inference, and the BN statistics learnt in
            training no longer fit (measured on the demo: 0.000 bbox mAP with
            ``'softmax'`` against 0.529 with ``'scaled_softmax'``).
        sync (bool): Normalise over the global batch of all processes
            (all-gather with autograd). Defaults to False.
        gsa_mode (str): ``'auto'``, ``'exact'`` or ``'sampled'``; see
            :class:`GlobalSpatialAttention`. Defaults to ``'auto'``.
        gsa_num_samples (int): Query positions sampled by the global branch.
            Defaults to 256.
        gsa_exact_max_positions (int): Largest H*W computed exactly in
            ``'auto'`` mode. Defaults to 1024.
        gsa_groups (int, optional): Groups of the global branch's 1x1 convs.
            Defaults to None (``gcd(R, d, C)``).
        name (str, optional): Name used in messages, e.g. ``'layer2'``.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Example:
        >>> import torch
        >>> ba2m = BA2M(64, reduction=16).train()
        >>> x = torch.rand(4, 64, 8, 8)
        >>> y = ba2m(x)
        >>> y.shape
        torch.Size([4, 64, 8, 8])
        >>> round(ba2m.last_weights.mean().item(), 4)  # N * softmax: mean weight 1
        1.0
        >>> torch.equal(ba2m.eval()(x), x)  # identity at inference
        True
    """

    def __init__(self,
                 in_channels: int,
                 reduction: int = 32,
                 branches: Sequence[str] = BRANCHES,
                 normalize: str = 'scaled_softmax',
                 sync: bool = False,
                 gsa_mode: str = 'auto',
                 gsa_num_samples: int = 256,
                 gsa_exact_max_positions: int = 1024,
                 gsa_groups: Optional[int] = None,
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
        if isinstance(branches, str) or not branches:
            raise ValueError(f'BA2M{where}: branches must be a non-empty sequence of {BRANCHES}, '
                             f'got {branches!r}')
        unknown = [b for b in branches if b not in BRANCHES]
        if unknown or len(set(branches)) != len(branches):
            raise ValueError(f'BA2M{where}: branches must be distinct names from {BRANCHES}, '
                             f'got {tuple(branches)!r}')
        if normalize not in NORMALIZATIONS:
            raise ValueError(
                f'BA2M{where}: normalize must be one of {NORMALIZATIONS}, got {normalize!r}')
        self.in_channels = in_channels
        self.reduction = reduction
        self.branches = tuple(b for b in BRANCHES if b in branches)
        self.normalize = normalize
        self.sync = sync
        self.name = name
        hidden = in_channels // reduction
        if gsa_groups is None:
            gsa_groups = math.gcd(math.gcd(reduction, hidden), in_channels)
        if 'channel' in self.branches:
            self.channel_attention = ChannelAttention(in_channels, hidden)
        if 'local' in self.branches:
            self.local_spatial = LocalSpatialAttention(in_channels, hidden)
        if 'global' in self.branches:
            self.global_spatial = GlobalSpatialAttention(in_channels, hidden, gsa_groups, gsa_mode,
                                                         gsa_num_samples, gsa_exact_max_positions)
        self.last_weights = None  # (N,) weights of the last training batch
        self.last_branch_share = None  # (num branches,) share of the max won
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
            elif isinstance(m, _BatchNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def branch_responses(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled responses of the enabled branches, shape (B, N, C), fp32."""
        responses = [getattr(self, BRANCH_MODULES[b])(x) for b in self.branches]
        return torch.stack(responses).float()  # (B, N, C)

    def sample_attention(self, x: torch.Tensor) -> torch.Tensor:
        """SAR of every sample (Eq. 9): mean_c max(A_C, A'_LS, A'_GS), (N,)."""
        responses = self.branch_responses(x)  # (B, N, C)
        with torch.autocast(x.device.type, enabled=False):
            strongest, winner = responses.max(dim=0)  # (N, C)
            counts = torch.bincount(winner.flatten(), minlength=len(self.branches))
            self.last_branch_share = (counts.float() / winner.numel()).detach()
            return strongest.mean(dim=1)  # (N,)

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
        synced = self.sync and is_distributed()
        if x.size(0) == 1 and not synced:
            if not self._warned_batch1:
                warnings.warn(f'BA2M{where}: training batch of 1 sample; its weight is 1 and BA2M '
                              'does nothing. Use at least 2 samples per batch (or sync=True).')
                self._warned_batch1 = True
            return x
        with self._batch_stats_if_possible(x.size(0)):
            sar = self.sample_attention(x)
        with torch.autocast(x.device.type, enabled=False):
            weights = batch_weights(sar, self.normalize, self.sync)  # Eq. 11, (N,)
        if not torch.isfinite(weights).all() or not torch.isfinite(sar).all():
            raise ValueError(
                f'BA2M{where}: non-finite sample attention (SAR) values in training '
                f'(SAR={sar.detach().cpu().tolist()}); the input feature map or the BA2M '
                'weights contain NaN/Inf. Lower the learning rate or enable gradient '
                'clipping.')
        self.last_weights = weights.detach()
        return x * weights.to(x.dtype).view(-1, 1, 1, 1)  # Eq. 13

    @contextmanager
    def _batch_stats_if_possible(self, batch_size: int):
        """BatchNorm1d cannot use batch statistics of one sample (sync mode,
        local batch 1): use the running statistics for that forward."""
        frozen = []
        if batch_size == 1:
            frozen = [m for m in self.modules() if isinstance(m, _BatchNorm) and m.training]
        for m in frozen:
            m.train(False)
        try:
            yield
        finally:
            for m in frozen:
                m.train(True)
