"""Training on a machine without CUDA: the CPU side of ``--launcher`` and ``--amp``.

- :func:`setup_cpu_distributed` / :func:`teardown_cpu_distributed`:
  ``--launcher pytorch|slurm|mpi`` with a gloo process group, and
  :func:`use_cpu_backend` for ``--launcher none``;
- :class:`CPUDistributedDataParallel`: the DDP wrapper for CPU modules that
  :func:`setup_cpu_distributed` selects (registered in mmengine's ``MODEL_WRAPPERS``);
- :class:`CPUAmpOptimWrapper`: ``--amp`` without CUDA, bfloat16 autocast (registered in
  mmengine's ``OPTIM_WRAPPERS``; :func:`ba2m_mm.launch.config.enable_amp` selects it).

On a machine with an accelerator nothing here changes the Runner's own paths.
"""
import datetime
import functools
import gc
import logging
import os
import subprocess
from contextlib import contextmanager
from typing import Optional, Sequence, Union

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, is_model_wrapper, revert_sync_batchnorm
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import MODEL_WRAPPERS, OPTIM_WRAPPERS
from mmengine.runner.amp import autocast
from torch.nn.modules.batchnorm import SyncBatchNorm
from torch.nn.parallel import DistributedDataParallel

from .config import LAUNCHERS

# --------------------------------------------------------------------------------------
# ``--launcher pytorch|slurm|mpi`` on a machine without CUDA.
#
# mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally
# (``RuntimeError: Found no NVIDIA driver`` on a CPU machine) and its DDP wrapper
# gets ``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU modules.
# :func:`setup_cpu_distributed` initialises the process group with gloo itself
# before the Runner is built (``Runner.setup_env`` then skips ``init_dist``,
# because the default group exists) and selects
# :class:`CPUDistributedDataParallel`.
# On a machine with an accelerator nothing is changed.
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# DDP model wrapper for CPU processes (gloo), selected by :func:`setup_cpu_distributed`.
# --------------------------------------------------------------------------------------
def _count_sync_bn(module) -> int:
    names = ('SyncBatchNorm', )  # torch's and mmcv's SyncBN share the class name
    return sum(isinstance(m, SyncBatchNorm) or type(m).__name__ in names for m in module.modules())


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for models on CPU.

    Differences from the parent: ``device_ids`` is forced to None (DDP rejects
    ``device_ids`` for CPU modules, and mmengine's Runner passes
    ``[LOCAL_RANK]`` by default), and SyncBN layers (which raise
    ``SyncBatchNorm expected input tensor to be on GPU`` in a CPU forward) are
    reverted to BatchNorm with mmengine's ``revert_sync_batchnorm``, with a
    warning: their statistics are then per process instead of global.

    Args:
        module (nn.Module): The model, on CPU.
        detect_anomalous_params (bool): See :class:`MMDistributedDataParallel`.
            Defaults to False.
        **kwargs: Passed to :class:`torch.nn.parallel.DistributedDataParallel`.
    """

    def __init__(self, module, detect_anomalous_params: bool = False, **kwargs):
        num_sync_bn = _count_sync_bn(module)
        if num_sync_bn:
            print_log(
                f'[ba2m_mm] SyncBN does not run on CPU: {num_sync_bn} SyncBatchNorm layers '
                'reverted to BatchNorm (batch statistics are now per process, not global). '
                'Use norm_cfg=dict(type=\'BN\') in CPU configs to silence this.',
                logger='current',
                level=logging.WARNING)
            module = revert_sync_batchnorm(module)
        kwargs['device_ids'] = None
        super().__init__(module=module, detect_anomalous_params=detect_anomalous_params, **kwargs)
        print_log(
            f'[ba2m_mm] CPU distributed data parallel: backend {dist.get_backend()!r}, '
            f'rank {dist.get_rank()} of {dist.get_world_size()}.',
            logger='current',
            level=logging.INFO)


# --------------------------------------------------------------------------------------
# Mixed-precision optimizer wrapper for CPU training (bfloat16 autocast).
# --------------------------------------------------------------------------------------
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
