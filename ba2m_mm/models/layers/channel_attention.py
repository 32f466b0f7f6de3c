"""Channel attention branch A_C of BA2M (paper Eq. 6)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ChannelAttention(nn.Module):
    """A_C(x) = BN(FC1(ReLU(FC0(GAP(x))))), an SE-style squeeze (Eq. 6).

    Like every BA2M branch, it reads the input only through the 1x1 layers it
    declares in :meth:`projection` (here FC0), which :class:`BA2M` applies
    to the input together with those of the other branches, and its
    ``forward`` takes that projected map. FC0 is linear, so FC0 at every
    position followed by GAP equals FC0(GAP(x)). The branch returns its
    pooled hidden units h and the last linear layer W (here FC1); the BN of
    W h over the batch is :class:`ResponseNorm`, shared by the branches.

    Args:
        in_channels (int): Channels C of the input feature map.
        hidden_channels (int): Width d = C/R of the bottleneck FC0.
    """

    def __init__(self, in_channels: int, hidden_channels: int):
        super().__init__()
        self.fc0 = nn.Linear(in_channels, hidden_channels)
        # No bias before BN: BN's mean subtraction would cancel it (dead parameter).
        self.fc1 = nn.Linear(hidden_channels, in_channels, bias=False)
        self.projection_sizes = (hidden_channels, )

    def projection(self) -> tuple:
        """FC0 as a 1x1 layer on the input: weight (d, C), biases ((d,), )."""
        return self.fc0.weight, (self.fc0.bias, )

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 6 read directly, from the feature map: FC1(ReLU(FC0(GAP(x)))), the pooled
        response before the branch BN (A_C = BN of it). Plain and unfused; BA2M runs
        :meth:`projection` and :meth:`forward` instead (``tests/test_branch_reference.py``
        checks that both give the same values and gradients).

        Args:
            x (Tensor): Input feature map, shape (N, C, H, W).

        Returns:
            Tensor: Shape (N, C).
        """
        return self.fc1(F.relu(self.fc0(x.mean(dim=(2, 3)))))

    def forward(self, projected: torch.Tensor, size: tuple) -> tuple:
        """What A_C = BN(FC1 h) (the paper writes it C x 1 x 1) is made of.

        Args:
            projected (Tensor): FC0 at every position, shape (N, d, H*W).
            size (tuple[int]): H, W (unused: A_C pools them away; every branch takes it,
                since BA2M calls them alike and A_LS needs it).

        Returns:
            tuple: h = ReLU(FC0(GAP(x))), shape (N, d); FC1's weight, (C, d);
            None: its BN runs over the batch only (Eq. 6).
        """
        return F.relu(projected.mean(dim=2)), self.fc1.weight, None
