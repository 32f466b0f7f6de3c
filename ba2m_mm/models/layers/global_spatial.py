"""Global spatial attention branch A_GS of BA2M (paper Eq. 8)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

GSA_MODES = ('auto', 'exact', 'sampled')
# Attention budget of gsa_mode='auto', in elements N x M x HW of the batch's attention
# matrices (M query positions: HW when exact), by where the attention runs. The branch costs
# O(N M HW d), so the batch counts as much as the positions. Exact while N (HW)^2 fits,
# else M = budget / (N HW) sampled queries, at least AUTO_MIN_SAMPLES, at most num_samples.
# - cpu: 2^22. At CIFAR size (32^2, N = 128, R = 8, base width 16, 1 thread) a BA2M
#   forward+backward at stage 1 took 0.53 s with 256 sampled queries (the exact branch was
#   the old default there: a BA2M step 4.9x the plain one), 0.19 s with 64; the plain
#   ResNet-18 step takes 0.7 s. With 2^22: 32 queries at stage 1, 128 at stage 2.
# - accelerator_fp32: 2^25 (32 images x 1,024 positions, exact); H100/H200 fp32: 7.07 ms
#   exact at 3,136 positions x 32 images (3.1e8 elements), so that one is sampled.
# - accelerator_half: 2 x 16,800^2 (5.6e8): 1.28 ms at 16,800 positions x 2 images (stage 2
#   of 800x1344) and 0.94 ms at 3,136 x 32 (3.1e8), so both are exact.
AUTO_EXACT_MAX_ELEMENTS = dict(cpu=2**22, accelerator_fp32=2**25, accelerator_half=2 * 16800**2)
AUTO_MIN_SAMPLES = 16

# Largest M x HW attention matrix per sample computed as an explicit product (fewer
# operators than the fused kernel; 32 MiB in fp32); SDPA's O(HW)-memory kernel above.
EXPLICIT_ATTENTION_MAX_ELEMENTS = 2**23


def block_diagonal(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Dense weights of grouped 1x1 convolutions, without per-group ops.

    Args:
        weight (Tensor): B grouped 1x1 conv weights, (B * out, in / G).
        mask (Tensor): ``eye(G)`` times a scale per stacked weight, shape
            (B, G, G) (3-D, so that ``Module.to(memory_format=...)`` leaves it
            alone: it converts every 4-D tensor and rejects 5-D ones).

    Returns:
        Tensor: Block-diagonal weights, shape (B * out, in).
    """
    num_weights, groups = mask.shape[:2]
    rows, in_per_group = weight.shape
    blocks = weight.view(num_weights, groups, rows // (num_weights * groups), 1, in_per_group)
    mask = mask.view(num_weights, groups, 1, groups, 1)
    return (blocks * mask).view(rows, groups * in_per_group)  # zeros off the diagonal


class GlobalSpatialAttention(nn.Module):
    """GAP(A_GS(x)) with A_GS = softmax(f(x) g(x)^T / sqrt(d)) h(x) (Eq. 8).

    ``f`` (query), ``g`` (key) and ``h`` (value) are grouped 1x1 convolutions
    C -> d = C/R; with ``groups == R`` each costs C^2/R^2 parameters, the
    3C^2/R^2 of Eq. 16. A non-local style output projection (grouped 1x1,
    d -> C) brings the pooled response to C channels so it can enter the
    channel-wise max of Eq. 9, and BN normalises it over the batch like A_C's
    (Eq. 8 has none; see :class:`ResponseNorm`). The softmax is scaled by
    1/sqrt(d) (absent from Eq. 8) so that it does not saturate at
    initialisation; the scale is applied to f's weight, so f's bias is that of
    the scaled query.

    Only the spatial mean of A_GS is needed, so the HW x HW attention matrix is
    not needed either:

    - ``'exact'``: all HW queries, each attending to all HW keys;
    - ``'sampled'``: the mean over ``num_samples`` query positions drawn
      uniformly at random (with replacement; one draw shared by the batch),
      each attending to all HW keys. This is an unbiased estimator of the
      exact mean, O(M HW d) time;
    - ``'auto'``: a budget of attention elements N x M x HW set by where the
      attention runs (``AUTO_EXACT_MAX_ELEMENTS``: CPU; accelerator in fp32;
      accelerator in half precision): exact (M = HW) while it fits, else
      ``M = budget / (N HW)`` sampled queries, between ``AUTO_MIN_SAMPLES``
      and ``num_samples``; or, if ``exact_max_positions`` is given, exact up
      to that many positions whatever the batch, ``num_samples`` above.

    The M x HW attention matrix is an explicit product up to
    ``EXPLICIT_ATTENTION_MAX_ELEMENTS`` per sample, and
    :func:`torch.nn.functional.scaled_dot_product_attention` (O(HW) memory)
    above, e.g. for exact attention at detection resolution.

    Args:
        in_channels (int): Channels C of the input feature map.
        hidden_channels (int): Query/key/value width d = C/R.
        groups (int): Groups of the 1x1 convolutions. Defaults to 1.
        mode (str): ``'auto'``, ``'exact'`` or ``'sampled'``.
            Defaults to ``'auto'``.
        num_samples (int): Sampled query positions M (``'sampled'``; the
            most ``'auto'`` samples). Defaults to 256.
        exact_max_positions (int, optional): Largest HW computed exactly in
            ``'auto'`` mode, whatever the batch. Defaults to None (the
            N x (HW)^2 budget of ``AUTO_EXACT_MAX_ELEMENTS``).
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int,
                 groups: int = 1,
                 mode: str = 'auto',
                 num_samples: int = 256,
                 exact_max_positions: Optional[int] = None):
        super().__init__()
        if mode not in GSA_MODES:
            raise ValueError(f'gsa_mode must be one of {GSA_MODES}, got {mode!r}')
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f'gsa_num_samples must be an int >= 1, got {num_samples!r}')
        if exact_max_positions is not None and (not isinstance(exact_max_positions, int)
                                                or exact_max_positions < 1):
            raise ValueError('gsa_exact_max_positions must be None or an int >= 1, got '
                             f'{exact_max_positions!r}')
        self.hidden_channels = hidden_channels
        self.mode = mode
        self.num_samples = num_samples
        self.exact_max_positions = exact_max_positions
        self.projection_sizes = (hidden_channels, ) * 3  # q, k, v
        # f, g, h of Eq. 8 (query, key, value): grouped 1x1 convolutions C -> d,
        # stacked as one (3d, C / G) tensor; the block-diagonal layout is built per call.
        self.qkv_weight = nn.Parameter(torch.empty(3 * hidden_channels, in_channels // groups))
        # A key bias adds q_i . b to every logit of query i: the softmax over keys
        # cancels it, so g has none. A value bias shifts every output by the same
        # vector, which BN's mean cancels, so h has none either.
        self.query_bias = nn.Parameter(torch.zeros(hidden_channels))
        # grouped 1x1 projection d -> C, (C, d / G)
        self.proj_weight = nn.Parameter(torch.empty(in_channels, hidden_channels // groups))
        eye = torch.eye(groups).view(1, groups, groups)
        qkv_scale = torch.tensor([hidden_channels**-0.5, 1.0, 1.0]).view(3, 1, 1)
        self.register_buffer('qkv_mask', eye * qkv_scale, persistent=False)
        self.register_buffer('proj_mask', eye, persistent=False)
        self.register_buffer('no_bias', torch.zeros(2 * hidden_channels), persistent=False)
        self.init_weights()

    def init_weights(self):
        """He initialisation of the grouped 1x1 convolutions (fan-in: C / G for
        f, g, h and d / G for the projection)."""
        nn.init.kaiming_normal_(self.qkv_weight, mode='fan_in', nonlinearity='relu')
        nn.init.kaiming_normal_(self.proj_weight, mode='fan_in', nonlinearity='relu')
        nn.init.zeros_(self.query_bias)

    def use_exact(self,
                  num_positions: int,
                  batch_size: int = 1,
                  dtype: torch.dtype = torch.float32,
                  device_type: str = 'cpu') -> bool:
        """Whether ``num_positions`` = HW positions of ``batch_size`` images
        are computed exactly, for attention inputs of ``dtype`` on a
        ``device_type`` device."""
        return self.num_queries(num_positions, batch_size, dtype, device_type) == num_positions

    def num_queries(self,
                    num_positions: int,
                    batch_size: int = 1,
                    dtype: torch.dtype = torch.float32,
                    device_type: str = 'cpu') -> int:
        """Query positions M of the attention (``num_positions``: exact)."""
        if self.mode == 'exact' or num_positions <= self.num_samples and self.mode == 'sampled':
            return num_positions
        if self.mode == 'sampled':
            return self.num_samples
        if self.exact_max_positions is not None:
            exact = num_positions <= self.exact_max_positions
            return num_positions if exact else min(self.num_samples, num_positions)
        if device_type == 'cpu':
            budget = AUTO_EXACT_MAX_ELEMENTS['cpu']
        elif dtype in (torch.float16, torch.bfloat16):
            budget = AUTO_EXACT_MAX_ELEMENTS['accelerator_half']
        else:
            budget = AUTO_EXACT_MAX_ELEMENTS['accelerator_fp32']
        if batch_size * num_positions**2 <= budget:
            return num_positions
        queries = min(self.num_samples, budget // (batch_size * num_positions))
        return min(num_positions, max(AUTO_MIN_SAMPLES, queries))

    def projection(self) -> tuple:
        """f / sqrt(d), g and h as one 1x1 layer: weight (3d, C), biases summing
        to 3d channels.

        Block-diagonal, so that one dense product serves all three (CPU kernels
        for grouped 1x1 convolutions are slow: 6x a dense one with 8x the FLOPs
        at stage 1 of ResNet-50).
        """
        weight = block_diagonal(self.qkv_weight, self.qkv_mask)  # (3d, C)
        return weight, (self.query_bias, self.no_bias)  # g, h: no bias

    def pooled_attention(self, x: torch.Tensor) -> torch.Tensor:
        """GAP of the attention output for an input map, with this branch's own
        f, g, h (in BA2M they run inside one convolution with the other
        branches' first layers).

        Args:
            x (Tensor): Input feature map, shape (N, C, H, W).

        Returns:
            Tensor: Shape (N, d).
        """
        weight, biases = self.projection()
        projected = F.conv2d(x, weight[..., None, None], torch.cat(biases)).flatten(2)
        return self(*projected.split(self.hidden_channels, dim=1), x.shape[2:])[0]

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 8 read directly, from the feature map, with all HW queries (``'exact'``):
        GAP(proj(softmax(f(x) g(x)^T) h(x))), the pooled response before the branch BN.
        f, g, h and proj are grouped 1x1 convolutions; f's weight carries the 1/sqrt(d)
        scale. Plain and unfused (the HW x HW attention matrix is built); BA2M runs
        :meth:`projection` and :meth:`forward` instead (``tests/test_branch_reference.py``
        checks that both give the same values and gradients in ``'exact'`` mode).

        Args:
            x (Tensor): Input feature map, shape (N, C, H, W).

        Returns:
            Tensor: Shape (N, C).
        """
        n, _, height, width = x.shape
        d, groups = self.hidden_channels, self.qkv_mask.shape[1]
        w_f, w_g, w_h = self.qkv_weight[..., None, None].split(d)  # (d, C / G, 1, 1) each
        f = F.conv2d(x, w_f * d**-0.5, self.query_bias, groups=groups).flatten(2)  # (N, d, HW)
        g = F.conv2d(x, w_g, groups=groups).flatten(2)
        h = F.conv2d(x, w_h, groups=groups).flatten(2)
        attention = torch.softmax(f.transpose(1, 2) @ g, dim=-1)  # (N, HW, HW)
        o = (attention @ h.transpose(1, 2)).transpose(1, 2)  # (N, d, HW)
        o = o.reshape(n, d, height, width)
        out = F.conv2d(o, self.proj_weight[..., None, None], groups=groups)  # (N, C, H, W)
        return out.mean(dim=(2, 3))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, size: tuple) -> tuple:
        """What GAP(A_GS) = GAP(BN(proj o)) is made of, o the attention output.

        Args:
            q, k, v (Tensor): f(x) / sqrt(d), g(x), h(x) at every position,
                each (N, d, H*W).
            size (tuple[int]): H, W (unused; every branch takes it, since BA2M calls
                them alike and A_LS needs it).

        Returns:
            tuple: GAP(o), shape (N, d); proj's dense weight, (C, d); None:
            its BN runs over the batch only.
        """
        n, d, num_positions = k.shape
        num_queries = self.num_queries(num_positions, n, q.dtype, q.device.type)
        if num_queries != num_positions:
            index = torch.randint(num_positions, (num_queries, ), device=q.device)
            q = q[:, :, index]  # (N, d, M)
        if q.size(2) * num_positions <= EXPLICIT_ATTENTION_MAX_ELEMENTS:
            attention = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)  # (N, M, HW)
            # mean over queries of attention @ v = (mean attention row) @ v
            pooled = torch.bmm(v, attention.mean(dim=1).view(n, num_positions, 1))  # (N, d, 1)
        else:  # position-major with contiguous rows: SDPA's O(HW)-memory kernels
            q, k, v = (t.mT.contiguous() for t in (q, k, v))
            pooled = F.scaled_dot_product_attention(q, k, v, scale=1.0).mean(dim=1)  # (N, d)
        pooled = pooled.view(n, d)
        proj = block_diagonal(self.proj_weight, self.proj_mask)  # (C, d)
        return pooled, proj, None
