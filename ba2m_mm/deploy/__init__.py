"""Deployment helpers: strip BA2M from a trained detector (``tools/deploy/strip_ba2m.py``)."""
from .strip import (BA2M_ARGS, BA2M_BACKBONES, BA2M_KEY, load_plain_detector, strip_ba2m,
                    strip_config, strip_state_dict)

__all__ = [
    'BA2M_ARGS', 'BA2M_BACKBONES', 'BA2M_KEY', 'load_plain_detector', 'strip_ba2m', 'strip_config',
    'strip_state_dict'
]
