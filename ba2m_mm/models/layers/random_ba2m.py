"""Random-weights control of BA2M: the batch softmax of Eq. 11 over noise, not attention."""
import torch
from mmengine.registry import MODELS

from .ba2m import BA2M


@MODELS.register_module()
class RandomBA2M(BA2M):
    """BA2M with its SARs replaced by noise: ``w = N softmax(sigma eps)``,
    ``eps ~ N(0, 1)`` per image (with ``normalize='scaled_softmax'``).

    An ablation control: it reweights the images of a training batch as
    strongly as BA2M does (``sigma`` matched to the spread of BA2M's SARs,
    i.e. of its log-weights) but at random, so a comparison with it tells
    whether BA2M's attention beats random reweighting. Everything else is
    BA2M's: same modules and parameters (the branches are built but unused),
    identity at inference, the same ``last_weights`` for
    :class:`BA2MWeightHook`.

    Args:
        in_channels (int): Channels C of the input feature map.
        sigma (float | dict): Standard deviation of the noise SARs, or one per
            BA2M ``name`` (e.g. ``dict(layer1=0.03, layer2=0.01)``: the
            backbone passes the stage name). Defaults to 0.1.
        **kwargs: Other :class:`BA2M` arguments.
    """

    def __init__(self, in_channels: int, sigma=0.1, **kwargs):
        super().__init__(in_channels, **kwargs)
        where = f' ({self.name})' if self.name else ''
        if isinstance(sigma, dict):
            if self.name not in sigma:
                raise ValueError(f'RandomBA2M{where}: sigma has no entry for {self.name!r}: '
                                 f'{sigma!r}')
            sigma = sigma[self.name]
        if not isinstance(sigma, (int, float)) or sigma < 0:
            raise ValueError(f'RandomBA2M{where}: sigma must be a number >= 0, got {sigma!r}')
        self.sigma = float(sigma)

    def sample_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Noise SARs ``sigma * eps``, (N,), fp32; the branches do not run."""
        self.last_responses = None
        return self.sigma * torch.randn(x.size(0), device=x.device)  # (N,)
