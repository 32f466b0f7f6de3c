"""What tools/train.py and tools/test.py do between parsing the command line and
``runner.train()``/``runner.test()``: one module per step, each adjusting the loaded
:class:`mmengine.config.Config` before the Runner is built.

Read in the order the tools call them:

- ``args.py``: the arguments shared with mmdet's tools (``--cfg-options``, ``--launcher``),
  and ``--unsafe-load``;
- ``config.py``: load the config, apply the overrides, resolve ``work_dir``;
- ``scope.py``: register the modules of the config's ``default_scope`` (mmdet, mmpretrain);
- ``amp.py`` (``--amp``), with ``cpu_amp_optim_wrapper.py`` for machines without CUDA;
- ``lr_scaling.py`` (``--auto-scale-lr``);
- ``load_from.py``: ``--resume [PATH]`` and the checkpoint tools/test.py evaluates;
- ``checkpoint_paths.py``: fail at once when a checkpoint file is missing;
- ``checkpoint_check.py``: fail, naming the file, when the tested or resumed checkpoint
  does not fit the run (checkpoints are always loaded safely: ``ba2m_mm/checkpoint/``);
- ``atomic_checkpoints.py``: crash-safe checkpoint writes;
- ``cpu_distributed.py``: ``--launcher pytorch|slurm|mpi`` without CUDA (gloo), with
  ``cpu_ddp_wrapper.py``; also for ``--launcher none``, ``env_cfg.dist_cfg.backend``
  becomes ``'gloo'`` on a machine without CUDA (the Runner logs it);
- ``visualization.py``, ``dump_predictions.py``: ``--show``/``--show-dir`` and ``--out``;
- ``runner.py``: build the Runner.

On a machine with CUDA the Runner's own paths are left untouched, except for the
crash-safe checkpoint writes. Importing this package registers
``CPUDistributedDataParallel`` in mmengine's ``MODEL_WRAPPERS`` and
``CPUAmpOptimWrapper`` in mmengine's ``OPTIM_WRAPPERS``.
"""
from .amp import enable_amp
from .args import (LAUNCHERS, add_runner_args, add_unsafe_load_arg, apply_unsafe_load_arg,
                   parse_runner_args)
from .atomic_checkpoints import use_atomic_checkpoints
from .checkpoint_check import check_resumed_checkpoint, check_tested_checkpoint
from .checkpoint_paths import check_pretrained_paths, local_pretrained_paths
from .config import load_config
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .cpu_ddp_wrapper import CPUDistributedDataParallel
from .cpu_distributed import (cpu_model_wrapper_cfg, setup_cpu_distributed,
                              teardown_cpu_distributed, use_cpu_backend)
from .dump_predictions import add_dump_metric
from .load_from import set_resume, set_test_checkpoint
from .lr_scaling import auto_scale_lr
from .runner import build_runner
from .scope import register_scope_modules
from .visualization import enable_visualization

__all__ = [
    'LAUNCHERS', 'add_runner_args', 'add_unsafe_load_arg', 'apply_unsafe_load_arg',
    'parse_runner_args', 'load_config', 'register_scope_modules', 'enable_amp',
    'CPUAmpOptimWrapper', 'auto_scale_lr', 'set_resume', 'set_test_checkpoint',
    'check_pretrained_paths', 'local_pretrained_paths', 'use_atomic_checkpoints',
    'setup_cpu_distributed', 'teardown_cpu_distributed', 'cpu_model_wrapper_cfg',
    'CPUDistributedDataParallel', 'enable_visualization', 'add_dump_metric', 'build_runner',
    'check_tested_checkpoint', 'check_resumed_checkpoint', 'use_cpu_backend'
]
