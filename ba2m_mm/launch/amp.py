"""``--amp``: mixed-precision training, on an accelerator or on CPU."""
import logging

import torch
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.logging import print_log


def enable_amp(cfg: Config) -> None:
    """``--amp``: as mmdet's ``tools/train.py``, plus a CPU variant.

    With an accelerator: ``optim_wrapper.type = 'AmpOptimWrapper'`` and
    ``loss_scale='dynamic'`` (mmdet's behaviour). Without one, mmengine's
    ``AmpOptimWrapper`` refuses to build (it asserts a GPU), so
    :class:`~ba2m_mm.launch.cpu_amp_optim_wrapper.CPUAmpOptimWrapper`
    (bfloat16 autocast, no loss scaling) is used instead. For mmdet configs its
    autocast covers ``backbone`` and ``neck`` only (``autocast_scope``):
    mmcv's CPU ``nms`` and ``RoIAlign`` have no bfloat16 kernels, so the heads
    stay in float32.

    Args:
        cfg (Config): The loaded config; modified in place.

    Raises:
        ValueError: If ``optim_wrapper.type`` is another wrapper, or
            ``optim_wrapper.dtype`` is not bfloat16 on CPU.
    """
    on_accelerator = get_device() != 'cpu'  # cuda, npu, mlu, musa
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper in ('AmpOptimWrapper', 'CPUAmpOptimWrapper'):
        print_log(
            '[ba2m_mm] AMP training is already enabled in your config.',
            logger='current',
            level=logging.WARNING)
        if optim_wrapper == 'CPUAmpOptimWrapper' or on_accelerator:
            return
    elif optim_wrapper != 'OptimWrapper':
        raise ValueError('`--amp` is only supported when optim_wrapper.type is '
                         f'\'OptimWrapper\', but got {optim_wrapper!r}.')
    if on_accelerator:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
        return
    dtype = cfg.optim_wrapper.get('dtype', None)
    if dtype not in (None, 'bfloat16', torch.bfloat16):
        raise ValueError(f'optim_wrapper.dtype={dtype!r}: CPU autocast only supports '
                         '\'bfloat16\'.')
    cfg.optim_wrapper.type = 'CPUAmpOptimWrapper'
    cfg.optim_wrapper.dtype = 'bfloat16'
    cfg.optim_wrapper.pop('loss_scale', None)
    where = 'the whole training forward'
    if cfg.get('default_scope', None) == 'mmdet':
        cfg.optim_wrapper.setdefault('autocast_scope', ('backbone', 'neck'))
        where = f'{tuple(cfg.optim_wrapper.autocast_scope)} (heads in float32: mmcv\'s CPU ' \
                'nms/RoIAlign have no bfloat16 kernels)'
    print_log(
        f'[ba2m_mm] `--amp` without CUDA: bfloat16 autocast on CPU for {where}; '
        'CPUAmpOptimWrapper, no loss scaling.',
        logger='current',
        level=logging.WARNING)
