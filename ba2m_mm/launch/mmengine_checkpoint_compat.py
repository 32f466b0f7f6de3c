"""Let mmengine < 0.11 load its own checkpoints under torch >= 2.6."""
import logging
import os

import torch
from mmengine.logging import print_log


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
    print_log(
        f'[ba2m_mm] mmengine {mmengine.__version__} with torch {torch.__version__}: set '
        'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 so that mmengine checkpoints load (they are '
        'pickles: only load files you trust). Upgrade to mmengine>=0.11 to avoid this.',
        logger='current',
        level=logging.WARNING)
    return True
