"""The checkpoints of a run: what tools/train.py and tools/test.py set in the loaded
:class:`mmengine.config.Config` about the checkpoints the Runner loads and writes.

- :func:`set_resume`, :func:`set_test_checkpoint`: which checkpoint the Runner loads;
- :func:`check_pretrained_paths`: fail at once when a checkpoint file is missing;
- :func:`check_tested_checkpoint`, :func:`check_resumed_checkpoint`: fail, naming the file,
  when the tested or resumed checkpoint does not fit the run
  (:class:`~ba2m_mm.engine.hooks.CheckpointCheckHook`);
- :func:`use_atomic_checkpoints`: crash-safe checkpoint writes
  (:class:`~ba2m_mm.engine.hooks.AtomicCheckpointHook`).
"""
import logging
import os
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log


# --------------------------------------------------------------------------------------
# Which checkpoint the Runner loads: ``--resume [PATH]`` of tools/train.py and the
# ``CHECKPOINT`` of tools/test.py, as mmengine's ``load_from``/``resume`` options.
# --------------------------------------------------------------------------------------
def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume``: as mmdet's ``tools/train.py``.

    ``'auto'`` (``--resume`` without a path) resumes from the latest
    checkpoint in ``work_dir``; a path resumes from that file; None keeps the
    config's ``resume``/``load_from``.

    Args:
        cfg (Config): The loaded config; modified in place.
        resume (str, optional): The value of ``--resume``.
    """
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume


def set_test_checkpoint(cfg: Config, checkpoint: str) -> None:
    """Make the Runner load ``checkpoint`` before testing.

    Args:
        cfg (Config): The loaded config; modified in place.
        checkpoint (str): A local file or a URL (``scheme://``).

    Raises:
        FileNotFoundError: If ``checkpoint`` is a local path that does not exist.
    """
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r}: no such file.')
    cfg.load_from = checkpoint


# --------------------------------------------------------------------------------------
# Fail at once, naming the option, when a checkpoint file the run would load is missing.
#
# mmengine notices a missing pretrained file only when it initialises the model, after the
# datasets are built, and says only ``FileNotFoundError: /x.pth can not be found.``.
# --------------------------------------------------------------------------------------
def local_pretrained_paths(cfg: Config) -> List[Tuple[str, str]]:
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


# --------------------------------------------------------------------------------------
# Check the checkpoint a test or a resume loads (``CheckpointCheckHook``).
# --------------------------------------------------------------------------------------
def _add_hook(cfg: Config, resume: bool) -> None:
    hooks = list(cfg.get('custom_hooks', None) or [])
    if any(h.get('type') == 'CheckpointCheckHook' for h in hooks):
        return
    cfg.custom_hooks = hooks + [dict(type='CheckpointCheckHook', resume=resume)]


def check_tested_checkpoint(cfg: Config) -> None:
    """tools/test.py: fail, naming the file and the tensors, when the checkpoint's tensors
    do not fit the config's model (mmengine only logs it and tests a partly initialised
    model).

    Args:
        cfg (Config): The loaded config; ``custom_hooks`` is extended in place.
    """
    _add_hook(cfg, resume=False)


def check_resumed_checkpoint(cfg: Config) -> None:
    """tools/train.py ``--resume``: also require the training state. Does nothing without
    ``resume`` (``load_from`` alone fine-tunes, where other shapes are expected and
    mmengine skips those tensors).

    Args:
        cfg (Config): The loaded config; ``custom_hooks`` is extended in place.
    """
    if cfg.get('resume', False):
        _add_hook(cfg, resume=True)


# --------------------------------------------------------------------------------------
# Write the run's checkpoints with crash-safe writes (``AtomicCheckpointHook``).
# --------------------------------------------------------------------------------------
def use_atomic_checkpoints(cfg: Config) -> bool:
    """Swap ``default_hooks.checkpoint`` of type ``CheckpointHook`` for
    :class:`~ba2m_mm.engine.hooks.AtomicCheckpointHook` (same arguments), so
    that a run killed at any instant resumes with ``--resume``.

    Args:
        cfg (Config): The loaded config; modified in place.

    Returns:
        bool: True when the hook was swapped (and logged).
    """
    hook = (cfg.get('default_hooks', None) or {}).get('checkpoint', None)
    if hook is None or hook.get('type', None) not in ('CheckpointHook', CheckpointHook):
        return False
    hook['type'] = 'AtomicCheckpointHook'
    print_log(
        '[ba2m_mm] default_hooks.checkpoint: CheckpointHook -> AtomicCheckpointHook '
        '(crash-safe writes).',
        logger='current',
        level=logging.INFO)
    return True
