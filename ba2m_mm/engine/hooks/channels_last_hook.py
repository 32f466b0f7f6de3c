"""Hook that trains and evaluates the model in the channels_last memory format."""
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Convert the model's 4-D parameters and buffers to ``channels_last``
    before training, validation and testing.

    The inputs stay NCHW-contiguous: the first convolution, whose weight is
    channels_last now, returns a channels_last map, and every later layer keeps
    that layout. Parameters keep their identity (``Module.to`` changes their
    data in place), so an optimizer built before the hook runs stays valid.
    Works with every BA2M backbone (BA2M holds no 5-D tensor).

    Enable it in a config with::

        custom_hooks = [dict(type='ChannelsLastHook')]
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def convert(runner) -> None:
        runner.model.to(memory_format=torch.channels_last)

    def before_train(self, runner) -> None:
        self.convert(runner)

    def before_val(self, runner) -> None:
        self.convert(runner)

    def before_test(self, runner) -> None:
        self.convert(runner)


__all__ = ['ChannelsLastHook']
