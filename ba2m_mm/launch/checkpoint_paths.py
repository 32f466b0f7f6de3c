"""Fail at once, naming the option, when a checkpoint file the run would load is missing.

mmengine notices a missing pretrained file only when it initialises the model, after the
datasets are built, and says only ``FileNotFoundError: /x.pth can not be found.``.
"""
import os
from typing import List, Tuple

from mmengine.config import Config


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
