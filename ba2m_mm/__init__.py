"""ba2m_mm: the Batch Aware Attention Module (BA2M) for mmdet and mmpretrain.

``import ba2m_mm`` registers classes, and changes nothing else in the process:

- ``BA2M`` (and ``RandomBA2M``, ``SqueezeExcitation``) in mmengine's root ``MODELS``
  (found from every scope); ``BA2MResNet`` and the other ``BA2M*`` backbones
  (``BA2MResNeXt``, ``BA2MMobileNetV2``, ...) in ``mmdet.registry.MODELS`` and
  ``mmpretrain.registry.MODELS`` (whichever are installed): ``ba2m_mm/models/``;
- the hooks a config may name, in mmengine's ``HOOKS``: ``BA2MWeightHook``,
  ``ChannelsLastHook``, ``MatchedSpreadHook``, ``AtomicCheckpointHook``,
  ``CheckpointCheckHook``: ``ba2m_mm/engine/hooks/``;
- ``ba2m_mm`` in mmengine's table of packages that carry configs, so that
  ``_base_ = 'ba2m_mm::ba2m/<config>.py'`` resolves after ``import ba2m_mm``: mmengine
  refuses ``package::`` for every package not in that table, and has no other way to
  add one (:mod:`ba2m_mm.config_inheritance`; the entry is added only if missing).

The run infrastructure (``launch``, ``checkpoint``), the comparison and analysis code, the
plots and the data sets are imported by our tools, not by ``import ba2m_mm``. What the
tools change in their process, the thread policy (``OMP_WAIT_POLICY=PASSIVE``) and safe
checkpoint loading in mmengine, is the opt-in :func:`setup_runtime`
(:mod:`ba2m_mm.runtime`).
"""
from .config_inheritance import register_config_package
from .runtime import setup_runtime
from .version import __version__

register_config_package()

from . import engine, models  # noqa: F401,E402  isort:skip

__all__ = ['__version__', 'setup_runtime']
