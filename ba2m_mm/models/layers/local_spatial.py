"""Local spatial attention branch A_LS of BA2M (paper Eq. 7)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LocalSpatialAttention(nn.Module):
    """GAP(A_LS(x)) with A_LS = BN(g2_1x1(g1_3x3(g0_1x1(x)))) (Eq. 7).

    A spindle of 1x1 (C -> C/R), 3x3 (C/R -> C/R) and 1x1 (C/R -> C)
    convolutions with ReLU in between; this is exactly the parameter count
    C^2 (9 + 2R) / R^2 of Eq. 16. The 1x1 convolutions g0 and g2 act on the
    channels of each position and are kept as :class:`~torch.nn.Linear`. BN
    normalises the C-channel map z = g2(y) over N x H x W, as Eq. 7 writes
    it; its statistics follow from the mean and the (C/R x C/R) second moment
    of y over N x H x W (see :class:`ResponseNorm`, shared by the branches),
    and since g2 and BN are affine, ``GAP(BN(g2(y))) == BN(g2(GAP(y)))``: the
    C-channel map never exists. g0 is applied by :class:`BA2M` together with
    the other branches'
    first layers (see :meth:`projection`).

    Args:
        in_channels (int): Channels C of the input feature map.
        hidden_channels (int): Width d = C/R of the spindle.
    """

    def __init__(self, in_channels: int, hidden_channels: int):
        super().__init__()
        self.g0 = nn.Linear(in_channels, hidden_channels)  # 1x1 conv
        self.g1 = nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1)
        # No bias before BN: BN's mean subtraction would cancel it (dead parameter).
        self.g2 = nn.Linear(hidden_channels, in_channels, bias=False)  # 1x1 conv
        self.projection_sizes = (hidden_channels, )

    def projection(self) -> tuple:
        """g0 as a 1x1 layer on the input: weight (d, C), biases ((d,), )."""
        return self.g0.weight, (self.g0.bias, )

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 7 read directly, from the feature map: GAP(g2(ReLU(g1(ReLU(g0(x)))))), the
        pooled response before the branch BN (GAP(A_LS) = BN of it with the statistics of
        the whole C-channel map g2(...), which this computes). Plain and unfused; BA2M runs
        :meth:`projection` and :meth:`forward` instead (``tests/test_branch_reference.py``
        checks that both give the same values and gradients).

        Args:
            x (Tensor): Input feature map, shape (N, C, H, W).

        Returns:
            Tensor: Shape (N, C).
        """
        y = F.relu(F.conv2d(x, self.g0.weight[..., None, None], self.g0.bias))  # (N, d, H, W)
        y = F.relu(self.g1(y))  # (N, d, H, W)
        z = F.conv2d(y, self.g2.weight[..., None, None])  # (N, C, H, W)
        return z.mean(dim=(2, 3))

    def forward(self, projected: torch.Tensor, size: tuple) -> tuple:
        """What GAP(A_LS) = GAP(BN(g2 y)) is made of.

        Args:
            projected (Tensor): g0(x) at every position, shape (N, d, H*W).
            size (tuple[int]): H, W.

        Returns:
            tuple: GAP(y), shape (N, d); g2's weight W, (C, d); y and W for
            the BN statistics over N x H x W (Eq. 7).
        """
        y = F.relu(projected).view(*projected.shape[:2], *size)  # (N, d, H, W)
        y = F.relu(self.g1(y)).view(projected.shape)  # (N, d, H*W)
        return y.mean(dim=2), self.g2.weight, (y, self.g2.weight)
