"""Channel attention branch A_C of BA2M (paper Eq. 6)."""
import torch
import torch.nn as nn
from mmengine.model import BaseModule


class ChannelAttention(BaseModule):
    """A_C(x) = BN(FC1(ReLU(FC0(GAP(x))))), an SE-style squeeze (Eq. 6).

    Args:
        in_channels (int): Channels C of the input feature map.
        hidden_channels (int): Width C/R of the bottleneck FC0.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Returns from ``forward``: the pooled response, shape (N, C). The paper writes
    A_C as C x 1 x 1; it is already spatially pooled.
    """

    def __init__(self, in_channels: int, hidden_channels: int, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.fc0 = nn.Linear(in_channels, hidden_channels)
        self.act = nn.ReLU(inplace=True)
        # No bias before BN: BN's mean subtraction would cancel it (dead parameter).
        self.fc1 = nn.Linear(hidden_channels, in_channels, bias=False)
        self.bn = nn.BatchNorm1d(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))  # (N, C)
        return self.bn(self.fc1(self.act(self.fc0(pooled))))  # (N, C)
