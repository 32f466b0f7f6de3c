"""Mixed-precision optimizer wrapper for CPU training (bfloat16 autocast)."""
import functools
from contextlib import contextmanager
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast


def _to_float32(out):
    """Cast the floating tensors of a (nested) module output to float32."""
    if torch.is_tensor(out):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, (list, tuple)):
        return type(out)(_to_float32(o) for o in out)
    if isinstance(out, dict):
        return type(out)((k, _to_float32(v)) for k, v in out.items())
    return out


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(AmpOptimWrapper):
    """:class:`AmpOptimWrapper` that runs on CPU.

    mmengine's ``AmpOptimWrapper`` asserts that a GPU/NPU/MLU/MUSA is
    available. CPU autocast supports only bfloat16, which has the exponent
    range of float32, so no loss scaling is needed: the loss scaler is a
    disabled ``torch.amp.GradScaler`` (``scale`` returns the loss unchanged,
    ``step`` calls ``optimizer.step``).

    mmcv's CPU kernels (``nms``, ``RoIAlign``, ...) have no bfloat16 version
    (``RuntimeError: expected scalar type Float but found BFloat16``), so
    for detectors autocast is limited to ``autocast_scope``: the named
    submodules (e.g. ``('backbone', 'neck')``) run under bfloat16 autocast
    in training steps and return float32 outputs; the heads run in float32.
    Validation and testing are never autocast.

    Args:
        dtype (str or torch.dtype): Must be ``'bfloat16'``. Defaults to
            ``'bfloat16'``.
        autocast_scope (Sequence[str], optional): Attribute names of the
            submodules to autocast. Defaults to None (the whole training
            forward, as ``AmpOptimWrapper``).
        **kwargs: Passed to :class:`OptimWrapper` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 autocast_scope: Optional[Sequence[str]] = None,
                 **kwargs):
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be \'bfloat16\' (the only CPU '
                             f'autocast type), got {dtype!r}')
        if isinstance(autocast_scope, str):
            autocast_scope = (autocast_scope, )
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler('cpu', enabled=False)
        self.cast_dtype = torch.bfloat16
        self.autocast_scope = None if autocast_scope is None else tuple(autocast_scope)
        self._in_train_step = False
        self._patched = set()

    def _autocast_submodules(self, model: nn.Module) -> None:
        """Make the ``autocast_scope`` submodules autocast inside training steps."""
        if is_model_wrapper(model):
            model = model.module
        for name in self.autocast_scope:
            module = getattr(model, name, None)
            if module is None or id(module) in self._patched:
                continue
            module.forward = self._scoped_forward(module.forward)
            self._patched.add(id(module))

    def _scoped_forward(self, forward):

        @functools.wraps(forward)
        def wrapped(*args, **kwargs):
            if not self._in_train_step:
                return forward(*args, **kwargs)
            with autocast(device_type='cpu', dtype=self.cast_dtype):
                out = forward(*args, **kwargs)
            return _to_float32(out)

        return wrapped

    @contextmanager
    def optim_context(self, model: nn.Module):
        if self.autocast_scope is None:
            with super().optim_context(model):
                yield
            return
        self._autocast_submodules(model)
        with OptimWrapper.optim_context(self, model):
            self._in_train_step = True
            try:
                yield
            finally:
                self._in_train_step = False
