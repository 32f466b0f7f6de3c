"""``--show``/``--show-dir`` of tools/test.py: turn on the config's VisualizationHook."""
import argparse
from typing import Optional

from mmengine.config import Config


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
