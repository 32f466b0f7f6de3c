"""The explicit opt-in to load a trusted checkpoint that the safe loader refuses.

Off by default. ``--unsafe-load`` on the tools, or ``BA2M_MM_UNSAFE_LOAD=1`` in the
environment (for any script that imports ``ba2m_mm``, and inherited by torchrun's
workers), turns it on. Every checkpoint then still goes through the safe loader first; only
one that it refuses is unpickled in full, with a warning naming the file and what it
references.
"""
import logging
import os

from mmengine.logging import print_log

UNSAFE_LOAD_ENV = 'BA2M_MM_UNSAFE_LOAD'
_TRUE = ('1', 'true', 'yes', 'on')

HOW_TO_OPT_IN = (f'If you trust this file, opt in with --unsafe-load (tools/train.py, test.py, '
                 f'deploy/strip_ba2m.py, publish_model.py, analysis/tsne.py) or the environment '
                 f'variable {UNSAFE_LOAD_ENV}=1.')


def unsafe_load_allowed() -> bool:
    """Whether the user opted in (``BA2M_MM_UNSAFE_LOAD`` is ``1``/``true``/``yes``/``on``)."""
    return os.environ.get(UNSAFE_LOAD_ENV, '').strip().lower() in _TRUE


def allow_unsafe_load(reason: str = '--unsafe-load') -> None:
    """Opt in for this process and its children (sets ``BA2M_MM_UNSAFE_LOAD=1``), logged.

    Args:
        reason (str): What asked for it, for the log. Defaults to ``'--unsafe-load'``.
    """
    os.environ[UNSAFE_LOAD_ENV] = '1'
    print_log(
        f'[ba2m_mm] {reason}: checkpoints that the safe loader refuses will be unpickled in '
        'full. Unpickling runs code named in the file: only do this for files you trust.',
        logger='current',
        level=logging.WARNING)
