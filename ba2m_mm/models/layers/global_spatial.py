"""Global spatial attention branch A_GS of BA2M (paper Eq. 8)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

GSA_MODES = ('auto', 'exact', 'sampled')


class GlobalSpatialAttention(BaseModule):
    """GAP(A_GS(x)) with A_GS = softmax(f(x) g(x)^T / sqrt(d)) h(x) (Eq. 8).

    ``f`` (query), ``g`` (key) and ``h`` (value) are grouped 1x1 convolutions
    C -> d = C/R; with ``groups == R`` each costs C^2/R^2 parameters, the
    3C^2/R^2 of Eq. 16. A non-local style output projection (grouped 1x1,
    d -> C) brings the pooled response back to C channels so it can enter the
    channel-wise max of Eq. 9, and BN normalises it over the batch like the
    other branches. The softmax is scaled by 1/sqrt(d) (absent from Eq. 8) so
    that it does not saturate at initialisation.

    Only the spatial mean of A_GS is needed, so the HW x HW attention matrix is
    never materialised:

    - ``'exact'``: :func:`torch.nn.functional.scaled_dot_product_attention`
      over all HW queries, O(HW) memory, O((HW)^2 d) time;
    - ``'sampled'``: the mean over ``num_samples`` query positions drawn
      uniformly without replacement (one draw shared by the batch), each
      attending to all HW keys. This is an unbiased estimator of the exact
      mean, O(M HW d) time;
    - ``'auto'``: exact when HW <= ``exact_max_positions``, sampled above.

    Args:
        in_channels (int): Channels C of the input feature map.
        hidden_channels (int): Query/key/value width d = C/R.
        groups (int): Groups of the 1x1 convolutions. Defaults to 1.
        mode (str): ``'auto'``, ``'exact'`` or ``'sampled'``.
            Defaults to ``'auto'``.
        num_samples (int): Sampled query positions M. Defaults to 256.
        exact_max_positions (int): Largest HW computed exactly in ``'auto'``
            mode. Defaults to 1024: at 224x224, stages 2-4 (784, 196, 49
            positions) are exact and stage 1 (3136) is sampled.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int,
                 groups: int = 1,
                 mode: str = 'auto',
                 num_samples: int = 256,
                 exact_max_positions: int = 1024,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if mode not in GSA_MODES:
            raise ValueError(f'gsa_mode must be one of {GSA_MODES}, got {mode!r}')
        if num_samples < 1:
            raise ValueError(f'gsa_num_samples must be >= 1, got {num_samples}')
        self.mode = mode
        self.num_samples = num_samples
        self.exact_max_positions = exact_max_positions
        self.f = nn.Conv1d(in_channels, hidden_channels, 1, groups=groups)
        # A key bias adds f_i . b to every key of query i: the softmax over keys
        # cancels it, so g has none. A value bias passes straight to the pooled
        # output, where the BN mean cancels it, so h has none either.
        self.g = nn.Conv1d(in_channels, hidden_channels, 1, groups=groups, bias=False)
        self.h = nn.Conv1d(in_channels, hidden_channels, 1, groups=groups, bias=False)
        self.proj = nn.Conv1d(hidden_channels, in_channels, 1, groups=groups, bias=False)
        self.bn = nn.BatchNorm1d(in_channels)

    def use_exact(self, num_positions: int) -> bool:
        """Whether a map with ``num_positions`` = HW is computed exactly."""
        if self.mode == 'exact' or num_positions <= self.num_samples:
            return True
        return self.mode == 'auto' and num_positions <= self.exact_max_positions

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """f, g and h of every position in one dense matrix product.

        Equal to ``f(x)``, ``g(x)``, ``h(x)``, but CPU kernels for grouped
        convolutions are slow (one grouped 256 -> 8 conv at stage 1 of
        ResNet-50: 6x slower than a dense one with 8x the FLOPs), so the
        grouped weights are laid out as one block-diagonal (3d, C) matrix.

        Args:
            x (Tensor): Input, shape (N, C, L).

        Returns:
            tuple[Tensor]: q, k, v, each of shape (N, L, d).
        """
        weights, biases = [], []
        for conv in (self.f, self.g, self.h):
            groups, d = conv.groups, conv.out_channels
            blocks = conv.weight.view(groups, d // groups, -1)  # (G, d/G, C/G)
            weights.append(torch.block_diag(*blocks))  # (d, C)
            biases.append(conv.bias if conv.bias is not None else blocks.new_zeros(d))
        weight, bias = torch.cat(weights), torch.cat(biases)  # (3d, C), (3d,)
        qkv = torch.matmul(x.transpose(1, 2), weight.t()) + bias  # (N, L, 3d)
        return qkv.chunk(3, dim=2)

    def pooled_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial mean of softmax(f g^T / sqrt(d)) h, shape (N, d)."""
        q, k, v = self.project(x.flatten(2))  # (N, HW, d) each
        if not self.use_exact(q.size(1)):
            index = torch.randperm(q.size(1), device=q.device)[:self.num_samples]
            q = q[:, index]  # (N, M, d)
        # contiguous (N, 1, L, d) tensors select the fused CPU/GPU kernels; a
        # strided view falls back to the math path that stores L x L.
        q, k, v = (t.unsqueeze(1).contiguous() for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)  # (N, 1, M, d)
        return out.mean(dim=(1, 2))  # (N, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pooled_attention(x).unsqueeze(-1)  # (N, d, 1)
        return self.bn(self.proj(pooled).squeeze(-1))  # (N, C)
