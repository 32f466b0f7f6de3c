"""Launch-path utilities: CPU distributed training, CPU AMP, config checks.

Importing this package registers ``CPUDistributedDataParallel`` in mmengine's
``MODEL_WRAPPERS`` and ``CPUAmpOptimWrapper`` in mmengine's ``OPTIM_WRAPPERS``.
"""
from .cpu_amp import CPUAmpOptimWrapper
from .cpu_ddp import CPUDistributedDataParallel
from .launch import (LAUNCHERS, add_runner_args, allow_mmengine_checkpoint_loading, auto_scale_lr,
                     check_pretrained_paths, cpu_model_wrapper_cfg, enable_amp, load_config,
                     local_pretrained_paths, parse_runner_args, register_scope_modules,
                     setup_cpu_distributed, use_atomic_checkpoints)

__all__ = [
    'add_runner_args', 'load_config', 'parse_runner_args', 'allow_mmengine_checkpoint_loading',
    'CPUAmpOptimWrapper', 'CPUDistributedDataParallel', 'LAUNCHERS', 'auto_scale_lr',
    'check_pretrained_paths', 'cpu_model_wrapper_cfg', 'enable_amp', 'local_pretrained_paths',
    'register_scope_modules', 'setup_cpu_distributed', 'use_atomic_checkpoints'
]
