"""Local spatial attention branch A_LS of BA2M (paper Eq. 7)."""
import torch
import torch.nn as nn
from mmengine.model import BaseModule


class LocalSpatialAttention(BaseModule):
    """GAP(A_LS(x)) with A_LS = BN(g2_1x1(g1_3x3(g0_1x1(x)))) (Eq. 7).

    A spindle of 1x1 (C -> C/R), 3x3 (C/R -> C/R) and 1x1 (C/R -> C)
    convolutions with ReLU in between; this is exactly the parameter count
    C^2 (9 + 2R) / R^2 of Eq. 16. Only the pooled response GAP(A_LS) enters
    the SAR (Eq. 9), and ``g2`` is linear, so ``GAP(g2(y)) == g2(GAP(y))``:
    ``g2`` runs on the pooled (N, C/R) vector instead of every position, and
    BN normalises the pooled (N, C) response over the batch, as in the other
    two branches, so that the three responses entering the max of Eq. 9 have
    the same scale.

    Args:
        in_channels (int): Channels C of the input feature map.
        hidden_channels (int): Width C/R of the spindle.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self, in_channels: int, hidden_channels: int, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.g0 = nn.Conv2d(in_channels, hidden_channels, 1)
        self.g1 = nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        # g2 is a 1x1 conv applied after pooling, i.e. a Linear; no bias before BN.
        self.g2 = nn.Linear(hidden_channels, in_channels, bias=False)
        self.bn = nn.BatchNorm1d(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.g0(x))  # (N, C/R, H, W)
        y = self.act(self.g1(y))  # (N, C/R, H, W)
        return self.bn(self.g2(y.mean(dim=(2, 3))))  # (N, C)
