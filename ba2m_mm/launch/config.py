"""Load the config a tool was given, with its command-line overrides applied."""
import argparse
import os

from mmengine.config import Config


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
