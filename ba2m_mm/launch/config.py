"""Arguments and config: what tools/train.py and tools/test.py do to the loaded
:class:`mmengine.config.Config` before the Runner is built, in the order they call it.

- :func:`add_runner_args`, :func:`parse_runner_args`: the arguments shared with mmdet's
  tools (``--cfg-options``, ``--launcher``), and ``--unsafe-load``;
- :func:`load_config`: load the config, apply the overrides, resolve ``work_dir``;
- :func:`register_scope_modules`: register the modules of the config's ``default_scope``;
- :func:`enable_amp` (``--amp``), :func:`auto_scale_lr` (``--auto-scale-lr``);
- :func:`enable_visualization`, :func:`add_dump_metric`: ``--show``/``--show-dir`` and
  ``--out`` of tools/test.py;
- :func:`build_runner`: build the Runner.
"""
import argparse
import importlib
import logging
import os
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ba2m_mm.checkpoint import UNSAFE_LOAD_ENV, allow_unsafe_load

# --------------------------------------------------------------------------------------
# Command-line arguments shared by ``tools/train.py`` and ``tools/test.py`` (and
# ``--unsafe-load``, which the other checkpoint-loading tools take too).
# --------------------------------------------------------------------------------------
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_runner_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the arguments that mmdet's ``tools/train.py`` and ``tools/test.py`` share:
    ``--cfg-options``, ``--launcher`` and ``--local-rank``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser; modified in place.

    Returns:
        argparse.ArgumentParser: ``parser``.
    """
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
    add_unsafe_load_arg(parser)
    return parser


def add_unsafe_load_arg(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--unsafe-load``: the explicit opt-in for trusted checkpoints that the safe
    loader refuses (see :mod:`ba2m_mm.checkpoint.unsafe_opt_in`).

    Args:
        parser (argparse.ArgumentParser): The tool's parser; modified in place.

    Returns:
        argparse.ArgumentParser: ``parser``.
    """
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='load checkpoints that safe loading (torch.load weights_only=True with an '
        'allow-list) refuses, by unpickling them in full. Unpickling can run code from the '
        f'file: only for files you trust. Same as {UNSAFE_LOAD_ENV}=1.')
    return parser


def apply_unsafe_load_arg(args: argparse.Namespace) -> None:
    """Opt in (logged) when ``--unsafe-load`` was given."""
    if getattr(args, 'unsafe_load', False):
        allow_unsafe_load('--unsafe-load')


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, export ``LOCAL_RANK`` for launchers that only pass ``--local-rank``, and opt
    in to unsafe loading for ``--unsafe-load``.

    Args:
        parser (argparse.ArgumentParser): A parser that went through
            :func:`add_runner_args`.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    apply_unsafe_load_arg(args)
    return args


# --------------------------------------------------------------------------------------
# Load the config a tool was given, with its command-line overrides applied.
# --------------------------------------------------------------------------------------
def load_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with ``--cfg-options``, ``--launcher`` and
    ``--work-dir`` applied.

    ``work_dir`` is resolved as in mmdet's tools: ``--work-dir``, else the
    config's ``work_dir``, else ``./work_dirs/<config file name>``.

    Args:
        args (argparse.Namespace): Parsed arguments with ``config``,
            ``cfg_options``, ``launcher`` and ``work_dir``.

    Returns:
        Config: The loaded config.
    """
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


# --------------------------------------------------------------------------------------
# Register the modules of the library named by the config's ``default_scope``.
# --------------------------------------------------------------------------------------
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
        print_log(
            '[ba2m_mm] the config has no `default_scope`; modules are looked up in mmengine\'s '
            'root registries only. Set default_scope = \'mmdet\' or \'mmpretrain\'.',
            logger='current',
            level=logging.WARNING)
        return None
    try:
        utils = importlib.import_module(f'{scope}.utils')
    except ImportError as e:
        raise ImportError(f'default_scope={scope!r}: cannot import {scope}.utils ({e}). '
                          f'Is {scope} installed in this Python environment?') from e
    if hasattr(utils, 'register_all_modules'):
        utils.register_all_modules(init_default_scope=False)
    return scope


# --------------------------------------------------------------------------------------
# ``--amp``: mixed-precision training, on an accelerator or on CPU.
# --------------------------------------------------------------------------------------
def enable_amp(cfg: Config) -> None:
    """``--amp``: as mmdet's ``tools/train.py``, plus a CPU variant.

    With an accelerator: ``optim_wrapper.type = 'AmpOptimWrapper'`` and
    ``loss_scale='dynamic'`` (mmdet's behaviour). Without one, mmengine's
    ``AmpOptimWrapper`` refuses to build (it asserts a GPU), so
    :class:`~ba2m_mm.launch.cpu.CPUAmpOptimWrapper`
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


# --------------------------------------------------------------------------------------
# ``--auto-scale-lr``: scale the learning rate with the total batch size.
# --------------------------------------------------------------------------------------
def auto_scale_lr(cfg: Config) -> None:
    """``--auto-scale-lr``: as mmdet's ``tools/train.py``. The Runner then
    scales the lr by ``total batch size / auto_scale_lr.base_batch_size``.

    Args:
        cfg (Config): The loaded config; modified in place.

    Raises:
        RuntimeError: If the config has no ``auto_scale_lr.base_batch_size``.
    """
    scale = cfg.get('auto_scale_lr', None)
    if scale is None or 'enable' not in scale or 'base_batch_size' not in scale:
        raise RuntimeError('Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
                           '"auto_scale_lr.base_batch_size" in your configuration file.')
    cfg.auto_scale_lr.enable = True


# --------------------------------------------------------------------------------------
# ``--show``/``--show-dir`` of tools/test.py: turn on the config's VisualizationHook.
# --------------------------------------------------------------------------------------
def enable_visualization(cfg: Config, scope: Optional[str], args: argparse.Namespace) -> None:
    """Turn on the visualization hook, as mmdet's and mmpretrain's ``test.py`` do.

    Args:
        cfg (Config): The loaded config; modified in place.
        scope (str, optional): The config's ``default_scope``; mmdet's own
            ``trigger_visualization_hook`` is used for ``'mmdet'``.
        args (argparse.Namespace): With ``show``, ``show_dir`` and ``wait_time``.

    Raises:
        RuntimeError: If the config has no ``default_hooks.visualization``.
    """
    hooks = cfg.get('default_hooks', None) or {}
    if 'visualization' not in hooks:
        raise RuntimeError('--show/--show-dir need a VisualizationHook: set '
                           'default_hooks.visualization=dict(type=\'VisualizationHook\') in the '
                           'config.')
    if scope == 'mmdet':
        from mmdet.engine.hooks.utils import trigger_visualization_hook
        trigger_visualization_hook(cfg, args)
        return
    visualization = cfg.default_hooks.visualization
    visualization.enable = True
    visualization.show = args.show
    visualization.wait_time = args.wait_time
    if args.show_dir:
        visualization.out_dir = args.show_dir


# --------------------------------------------------------------------------------------
# ``--out`` of tools/test.py: dump the predictions to a pickle file.
# --------------------------------------------------------------------------------------
def add_dump_metric(cfg: Config, scope: Optional[str], out: str) -> None:
    """Append a metric that dumps the predictions to ``out``: mmdet's
    ``DumpDetResults`` for ``scope='mmdet'``, else mmengine's ``DumpResults``.

    Args:
        cfg (Config): The loaded config; ``test_evaluator`` is modified in place.
        scope (str, optional): The config's ``default_scope``.
        out (str): The ``.pkl`` or ``.pickle`` file to write.

    Raises:
        ValueError: If ``out`` has another extension.
    """
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out={out!r}: the dump file must be a .pkl or .pickle file.')
    dump = dict(type='DumpDetResults' if scope == 'mmdet' else 'DumpResults', out_file_path=out)
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, (list, tuple)):
        cfg.test_evaluator = list(evaluator) + [dump]
    elif isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
        metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        evaluator['metrics'] = metrics + [dump]
    else:
        cfg.test_evaluator = [evaluator, dump]


# --------------------------------------------------------------------------------------
# Build the mmengine Runner a config asks for.
# --------------------------------------------------------------------------------------
def build_runner(cfg: Config) -> Runner:
    """``Runner.from_cfg(cfg)``, or the config's ``runner_type`` from ``RUNNERS``,
    as mmdet's tools do.

    Args:
        cfg (Config): The prepared config.

    Returns:
        Runner: The runner.
    """
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
