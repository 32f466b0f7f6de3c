"""Launch-path helpers shared by ``tools/train.py`` and ``tools/test.py``.

They adjust a loaded :class:`mmengine.config.Config` before the Runner is
built. On a machine with CUDA the Runner's own paths are left untouched,
except that checkpoints are written atomically (:func:`use_atomic_checkpoints`).

CPU distributed training: mmengine's ``init_dist`` calls
``torch.cuda.set_device`` unconditionally (``RuntimeError: Found no NVIDIA
driver`` on a CPU machine) and its DDP wrapper gets
``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU modules.
:func:`setup_cpu_distributed` initialises the process group with gloo itself
before the Runner is built (``Runner.setup_env`` then skips ``init_dist``,
because the default group exists) and selects
:class:`~ba2m_mm.utils.cpu_ddp.CPUDistributedDataParallel`.
"""
import argparse
import datetime
import importlib
import logging
import os
import subprocess
from typing import List, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

from .cpu_ddp import CPUDistributedDataParallel

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_runner_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments that tools/train.py and tools/test.py share, as mmdet's tools have them:
    ``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy format '
        'will be merged into config file. If the value to be overwritten is a list, it should '
        'be like key="[a,b]" or key=a,b It also allows nested list/tuple values, e.g. '
        'key="[(a,b),(c,d)]" Note that the quotation marks are necessary and that no white '
        'space is allowed.')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torch.distributed.launch with torch >= 2.0 passes --local-rank, older --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for launchers that only pass ``--local-rank``."""
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with ``--cfg-options``, ``--launcher`` and
    ``--work-dir`` applied; work_dir priority: CLI > config > config file name."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = os.path.join('./work_dirs',
                                    os.path.splitext(os.path.basename(args.config))[0])
    return cfg


CPU_BACKENDS = ('gloo', 'mpi')


def _log(msg: str, level: int = logging.INFO) -> None:
    print_log(f'[ba2m_mm] {msg}', logger='current', level=level)


def register_scope_modules(cfg: Config) -> Optional[str]:
    """Register the modules of the library named by ``cfg.default_scope``.

    Calls ``<scope>.utils.register_all_modules(init_default_scope=False)``
    (mmdet, mmpretrain, ...). ``ba2m_mm`` must already be imported: its
    ``BA2MResNet`` is then found whether or not the config has
    ``custom_imports``.

    Args:
        cfg (Config): The loaded config.

    Returns:
        str or None: The scope, or None when the config has no
        ``default_scope`` (then nothing is registered, with a warning).
    """
    scope = cfg.get('default_scope', None)
    if scope is None:
        _log(
            'the config has no `default_scope`; modules are looked up in mmengine\'s root '
            'registries only. Set default_scope = \'mmdet\' or \'mmpretrain\'.', logging.WARNING)
        return None
    try:
        utils = importlib.import_module(f'{scope}.utils')
    except ImportError as e:
        raise ImportError(f'default_scope={scope!r}: cannot import {scope}.utils ({e}). '
                          f'Is {scope} installed in this Python environment?') from e
    if hasattr(utils, 'register_all_modules'):
        utils.register_all_modules(init_default_scope=False)
    return scope


def _cuda_like_device() -> bool:
    """True when mmengine would run on an accelerator (cuda, npu, mlu, musa)."""
    return get_device() != 'cpu'


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

    Does nothing (returns False) when ``launcher == 'none'``, when an
    accelerator is available (mmengine's path is kept exactly) or when the
    default process group already exists. Otherwise:

    - initialises the default process group with ``env_cfg.dist_cfg``'s
      backend if it is ``'gloo'`` or ``'mpi'``, else with ``'gloo'``
      (``'nccl'``, mmdet's default, needs CUDA); ``dist_cfg.timeout`` is kept;
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
    if launcher == 'none' or _cuda_like_device():
        return False
    env_cfg = cfg.get('env_cfg', None) or {}
    dist_cfg = dict(env_cfg.get('dist_cfg', None) or {})
    backend = dist_cfg.pop('backend', 'nccl')
    if backend not in CPU_BACKENDS:
        _log(
            f'env_cfg.dist_cfg.backend={backend!r} needs CUDA, which this machine does not '
            'have; using \'gloo\' instead.', logging.WARNING)
        backend = 'gloo'
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
    cfg.model_wrapper_cfg = cpu_model_wrapper_cfg(cfg)
    _log(
        f'CPU distributed training: no CUDA device, process group initialised with '
        f'backend={backend!r} (rank {dist.get_rank()} of {dist.get_world_size()}), model '
        f'wrapper {cfg.model_wrapper_cfg["type"]} with device_ids=None.', logging.WARNING)
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
            _log(
                f'model_wrapper_cfg.device_ids={wrapper["device_ids"]!r} is ignored on CPU '
                '(DDP needs device_ids=None for CPU modules).', logging.WARNING)
        wrapper['device_ids'] = None
    return wrapper


def enable_amp(cfg: Config) -> None:
    """``--amp``: as mmdet's ``tools/train.py``, plus a CPU variant.

    With an accelerator: ``optim_wrapper.type = 'AmpOptimWrapper'`` and
    ``loss_scale='dynamic'`` (mmdet's behaviour). Without one, mmengine's
    ``AmpOptimWrapper`` refuses to build (it asserts a GPU), so
    :class:`~ba2m_mm.utils.cpu_amp.CPUAmpOptimWrapper` (bfloat16 autocast, no
    loss scaling) is used instead. For mmdet configs its autocast covers
    ``backbone`` and ``neck`` only (``autocast_scope``): mmcv's CPU ``nms``
    and ``RoIAlign`` have no bfloat16 kernels, so the heads stay in float32.

    Args:
        cfg (Config): The loaded config; modified in place.
    """
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper in ('AmpOptimWrapper', 'CPUAmpOptimWrapper'):
        _log('AMP training is already enabled in your config.', logging.WARNING)
        if optim_wrapper == 'CPUAmpOptimWrapper' or _cuda_like_device():
            return
    elif optim_wrapper != 'OptimWrapper':
        raise ValueError('`--amp` is only supported when optim_wrapper.type is '
                         f'\'OptimWrapper\', but got {optim_wrapper!r}.')
    if _cuda_like_device():
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
    _log(
        f'`--amp` without CUDA: bfloat16 autocast on CPU for {where}; CPUAmpOptimWrapper, '
        'no loss scaling.', logging.WARNING)


def use_atomic_checkpoints(cfg: Config) -> bool:
    """Swap ``default_hooks.checkpoint`` of type ``CheckpointHook`` for
    :class:`~ba2m_mm.engine.AtomicCheckpointHook` (same arguments).

    Args:
        cfg (Config): The loaded config; modified in place.

    Returns:
        bool: True when the hook was swapped.
    """
    from mmengine.hooks import CheckpointHook
    hook = (cfg.get('default_hooks', None) or {}).get('checkpoint', None)
    if hook is None or hook.get('type', None) not in ('CheckpointHook', CheckpointHook):
        return False
    hook['type'] = 'AtomicCheckpointHook'
    return True


def auto_scale_lr(cfg: Config) -> None:
    """``--auto-scale-lr``: as mmdet's ``tools/train.py``.

    Args:
        cfg (Config): The loaded config; modified in place.
    """
    scale = cfg.get('auto_scale_lr', None)
    if scale is None or 'enable' not in scale or 'base_batch_size' not in scale:
        raise RuntimeError('Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
                           '"auto_scale_lr.base_batch_size" in your configuration file.')
    cfg.auto_scale_lr.enable = True


def local_pretrained_paths(cfg: Config) -> List[tuple]:
    """``(option, path)`` of every local checkpoint file the config loads.

    Walks ``cfg.model`` for ``init_cfg=dict(type='Pretrained', checkpoint=...)``
    (also inside lists) and ``pretrained=...``; URLs (``scheme://``) are
    skipped.

    Args:
        cfg (Config): The loaded config.

    Returns:
        list[tuple[str, str]]: Dotted option names and paths,
        e.g. ``('model.backbone.init_cfg.checkpoint', '/x.pth')``.
    """
    found = []

    def visit(node, prefix):
        if isinstance(node, dict):
            if node.get('type', None) == 'Pretrained' and isinstance(node.get('checkpoint'), str):
                found.append((f'{prefix}.checkpoint', node['checkpoint']))
            for key, value in node.items():
                if key == 'pretrained' and isinstance(value, str):
                    found.append((f'{prefix}.pretrained', value))
                else:
                    visit(value, f'{prefix}.{key}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                visit(value, f'{prefix}[{i}]')

    visit(cfg.get('model', None), 'model')
    return [(option, path) for option, path in found if '://' not in path]


def allow_mmengine_checkpoint_loading() -> bool:
    """Let mmengine < 0.11 load its own checkpoints under torch >= 2.6.

    mmengine 0.10.x calls ``torch.load`` without ``weights_only``; torch 2.6
    made ``weights_only=True`` the default, so loading any mmengine
    checkpoint (test, resume) fails with ``Unsupported global: GLOBAL
    mmengine.logging.history_buffer.HistoryBuffer``. With that combination
    this sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (unless the variable is
    already set), with a warning. Only load checkpoints you trust: they are
    pickles. mmengine >= 0.11 passes ``weights_only=False`` itself.

    Returns:
        bool: True when the variable was set.
    """
    import mmengine
    from mmengine.utils import digit_version
    if (digit_version(mmengine.__version__) >= digit_version('0.11.0rc0')
            or digit_version(torch.__version__) < digit_version('2.6.0')
            or 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' in os.environ):
        return False
    os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] = '1'
    _log(
        f'mmengine {mmengine.__version__} with torch {torch.__version__}: set '
        'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 so that mmengine checkpoints load (they are '
        'pickles: only load files you trust). Upgrade to mmengine>=0.11 to avoid this.',
        logging.WARNING)
    return True


def check_pretrained_paths(cfg: Config) -> None:
    """Fail before any data is loaded when a local pretrained file, or the
    ``load_from``/``--resume PATH`` checkpoint, is missing.

    Args:
        cfg (Config): The loaded config.

    Raises:
        FileNotFoundError: Naming the option and the path.
    """
    for option, path in local_pretrained_paths(cfg):
        if not os.path.isfile(os.path.expanduser(path)):
            unset = option.rsplit('.', 1)[0] if option.endswith('.checkpoint') else option
            raise FileNotFoundError(
                f'{option}={path!r}: no such file. Fix the path, or train without it with '
                f'--cfg-options {unset}=None')
    load_from = cfg.get('load_from', None)
    if isinstance(load_from, str) and '://' not in load_from and not os.path.isfile(load_from):
        option = '--resume' if cfg.get('resume', False) else 'load_from'
        raise FileNotFoundError(f'{option}={load_from!r}: no such checkpoint file.')


__all__ = [
    'add_runner_args', 'load_config', 'parse_runner_args', 'allow_mmengine_checkpoint_loading',
    'LAUNCHERS', 'register_scope_modules', 'setup_cpu_distributed', 'cpu_model_wrapper_cfg',
    'enable_amp', 'use_atomic_checkpoints', 'auto_scale_lr', 'local_pretrained_paths',
    'check_pretrained_paths'
]
