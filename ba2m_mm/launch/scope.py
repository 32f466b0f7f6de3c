"""Register the modules of the library named by the config's ``default_scope``."""
import importlib
import logging
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log


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
