"""``--launcher pytorch|slurm|mpi`` on a machine without CUDA.

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally
(``RuntimeError: Found no NVIDIA driver`` on a CPU machine) and its DDP wrapper
gets ``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU modules.
:func:`setup_cpu_distributed` initialises the process group with gloo itself
before the Runner is built (``Runner.setup_env`` then skips ``init_dist``,
because the default group exists) and selects
:class:`~ba2m_mm.launch.cpu_ddp_wrapper.CPUDistributedDataParallel`.
On a machine with an accelerator nothing is changed.
"""
import datetime
import gc
import logging
import os
import subprocess
from typing import Optional

import torch.distributed as dist
from mmengine.config import Config, ConfigDict
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

from .args import LAUNCHERS
from .cpu_ddp_wrapper import CPUDistributedDataParallel

CPU_BACKENDS = ('gloo', 'mpi')

# The default process group initialised by setup_cpu_distributed (None: not ours).
_own_group = None


def _warn(msg: str) -> None:
    print_log(f'[ba2m_mm] {msg}', logger='current', level=logging.WARNING)


def _set_rank_env(launcher: str, port: Optional[int]) -> None:
    """Fill RANK/WORLD_SIZE/LOCAL_RANK/MASTER_* from the launcher's variables,
    as mmengine's ``_init_dist_slurm``/``_init_dist_mpi`` do."""
    if launcher == 'slurm':
        proc_id = int(os.environ['SLURM_PROCID'])
        local_rank = os.environ.get('SLURM_LOCALID', '0')
        node_list = os.environ['SLURM_NODELIST']
        if port is not None:
            os.environ['MASTER_PORT'] = str(port)
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {node_list} | head -n1')
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['LOCAL_RANK'] = local_rank
        os.environ['RANK'] = str(proc_id)
    elif launcher == 'mpi':
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            raise KeyError('The environment variable MASTER_ADDR is not set')
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Make ``--launcher pytorch|slurm|mpi`` work on a machine without CUDA.

    Does nothing (returns False) when an accelerator is available (mmengine's
    path is kept exactly). Without one, ``env_cfg.dist_cfg.backend`` becomes
    ``'gloo'`` unless it is ``'gloo'`` or ``'mpi'`` (``'nccl'``, mmdet's default,
    needs CUDA), also for ``launcher='none'``, so that the Runner's environment
    log does not announce nccl on a CPU run; then nothing more is done (returns
    False) for ``launcher='none'``. Otherwise:

    - initialises the default process group (unless it exists) with that
      backend; ``dist_cfg.timeout`` is kept;
    - sets ``cfg.model_wrapper_cfg`` to ``CPUDistributedDataParallel`` with
      ``device_ids=None``, keeping the user's other wrapper settings
      (``find_unused_parameters``, ``broadcast_buffers``, ...). A user wrapper
      that is not a DDP subclass keeps its type and only gets
      ``device_ids=None`` if it is a DDP subclass. SyncBN layers are reverted
      to BN by the wrapper, with a warning.

    Args:
        cfg (Config): The loaded config; modified in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: True when the CPU/gloo path is in use.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if get_device() != 'cpu':  # cuda, npu, mlu, musa: mmengine's path
        return False
    backend = use_cpu_backend(cfg, warn=launcher != 'none')
    if launcher == 'none':
        return False
    dist_cfg = dict(cfg.env_cfg.dist_cfg)
    dist_cfg.pop('backend')
    port = dist_cfg.pop('port', None)
    dist_cfg.pop('init_backend', None)
    timeout = dist_cfg.pop('timeout', None)
    if timeout is not None:
        dist_cfg['timeout'] = datetime.timedelta(seconds=timeout)
    if not dist.is_initialized():
        _set_rank_env(launcher, port)
        dist.init_process_group(
            backend=backend,
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **dist_cfg)
        global _own_group
        _own_group = dist.group.WORLD
    cfg.model_wrapper_cfg = cpu_model_wrapper_cfg(cfg)
    _warn(f'CPU distributed training: no CUDA device, process group initialised with '
          f'backend={backend!r} (rank {dist.get_rank()} of {dist.get_world_size()}), model '
          f'wrapper {cfg.model_wrapper_cfg["type"]} with device_ids=None.')
    return True


def use_cpu_backend(cfg: Config, warn: bool = True) -> str:
    """Set ``env_cfg.dist_cfg.backend`` to a backend that runs without CUDA.

    Args:
        cfg (Config): The loaded config; modified in place.
        warn (bool): Warn when a CUDA-only backend is replaced. Defaults to True.

    Returns:
        str: The backend: the config's if it is ``'gloo'`` or ``'mpi'``, else ``'gloo'``.
    """
    if cfg.get('env_cfg', None) is None:
        cfg.env_cfg = ConfigDict()
    if cfg.env_cfg.get('dist_cfg', None) is None:
        cfg.env_cfg.dist_cfg = ConfigDict()
    backend = cfg.env_cfg.dist_cfg.get('backend', 'nccl')
    if backend not in CPU_BACKENDS:
        if warn:
            _warn(f'env_cfg.dist_cfg.backend={backend!r} needs CUDA, which this machine does '
                  'not have; using \'gloo\' instead.')
        backend = 'gloo'
    cfg.env_cfg.dist_cfg.backend = backend
    return backend


def teardown_cpu_distributed() -> bool:
    """Destroy the process group that :func:`setup_cpu_distributed` created, and stop
    gloo's worker threads while the interpreter is still alive.

    Called by the tools after ``runner.train()``/``runner.test()``, once the runner is no
    longer referenced. Without it a gloo worker thread can still be releasing the tensors
    of the last collective when Python shuts down; it then needs the GIL of a finalising
    interpreter and the process aborts after all work is done (``terminate called without
    an active exception``, SIGABRT; torchrun then reports the run as failed). Seen with
    ``tools/dist_test.sh`` on a busy CPU machine. ``destroy_process_group`` alone does not
    stop the threads while the model's DDP wrapper still references the group, so the
    runner (in reference cycles) is garbage-collected first; the group's destructor then
    joins its threads with the GIL released.

    Returns:
        bool: True when a process group was destroyed.
    """
    global _own_group
    if _own_group is None or not dist.is_initialized() or dist.group.WORLD is not _own_group:
        return False
    _own_group = None
    gc.collect()  # the finished runner and its DDP wrapper, which hold the group
    dist.destroy_process_group()
    return True


def cpu_model_wrapper_cfg(cfg: Config) -> ConfigDict:
    """The ``model_wrapper_cfg`` for CPU DDP, keeping the user's settings.

    mmengine's default (no ``model_wrapper_cfg``) is
    ``MMDistributedDataParallel(broadcast_buffers=False,
    find_unused_parameters=cfg.find_unused_parameters)``; the CPU version is the
    same with ``device_ids=None``.

    Args:
        cfg (Config): The loaded config.

    Returns:
        ConfigDict: The wrapper config.
    """
    user = cfg.get('model_wrapper_cfg', None)
    if user is None:
        wrapper = ConfigDict(
            type=CPUDistributedDataParallel.__name__,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    else:
        wrapper = ConfigDict(user)
        wrapper_type = wrapper.get('type', 'MMDistributedDataParallel')
        if wrapper_type in ('MMDistributedDataParallel', 'DistributedDataParallel'):
            wrapper['type'] = CPUDistributedDataParallel.__name__
        else:
            wrapper['type'] = wrapper_type
    cls = wrapper['type'] if isinstance(wrapper['type'], type) else MODEL_WRAPPERS.get(
        wrapper['type'])
    if cls is not None and issubclass(cls, DistributedDataParallel):
        if wrapper.get('device_ids', None) is not None:
            _warn(f'model_wrapper_cfg.device_ids={wrapper["device_ids"]!r} is ignored on CPU '
                  '(DDP needs device_ids=None for CPU modules).')
        wrapper['device_ids'] = None
    return wrapper
