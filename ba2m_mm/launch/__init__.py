"""What tools/train.py and tools/test.py do between parsing the command line and
``runner.train()``/``runner.test()``, grouped by concern; each step adjusts the loaded
:class:`mmengine.config.Config` before the Runner is built.

- ``config.py``: arguments and config: the arguments shared with mmdet's tools
  (``--cfg-options``, ``--launcher``) and ``--unsafe-load``; load the config with its
  overrides; register the ``default_scope`` modules; ``--amp``, ``--auto-scale-lr``,
  ``--show``/``--show-dir``, ``--out``; build the Runner;
- ``cpu.py``: a machine without CUDA: ``--launcher pytorch|slurm|mpi`` with gloo and a CPU
  DDP wrapper (for ``--launcher none``, ``env_cfg.dist_cfg.backend`` becomes ``'gloo'``,
  which the Runner logs), and the bfloat16 AMP wrapper of ``--amp``;
- the checkpoints of a run (``--resume``, the tested checkpoint, missing files, checks,
  crash-safe writes) are in :mod:`ba2m_mm.checkpoint` (``run_config.py``), with safe
  loading.

On a machine with CUDA the Runner's own paths are left untouched, except for the
crash-safe checkpoint writes. Importing this package registers
``CPUDistributedDataParallel`` in mmengine's ``MODEL_WRAPPERS`` and
``CPUAmpOptimWrapper`` in mmengine's ``OPTIM_WRAPPERS``.
"""
from .config import (LAUNCHERS, add_dump_metric, add_runner_args, add_unsafe_load_arg,
                     apply_unsafe_load_arg, auto_scale_lr, build_runner, enable_amp,
                     enable_visualization, load_config, parse_runner_args, register_scope_modules)
from .cpu import (CPUAmpOptimWrapper, CPUDistributedDataParallel, cpu_model_wrapper_cfg,
                  setup_cpu_distributed, teardown_cpu_distributed, use_cpu_backend)

__all__ = [
    'LAUNCHERS', 'add_runner_args', 'add_unsafe_load_arg', 'apply_unsafe_load_arg',
    'parse_runner_args', 'load_config', 'register_scope_modules', 'enable_amp',
    'CPUAmpOptimWrapper', 'auto_scale_lr', 'setup_cpu_distributed', 'teardown_cpu_distributed',
    'cpu_model_wrapper_cfg', 'CPUDistributedDataParallel', 'enable_visualization',
    'add_dump_metric', 'build_runner', 'use_cpu_backend'
]
