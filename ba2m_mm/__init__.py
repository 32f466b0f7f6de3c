"""ba2m_mm: the Batch Aware Attention Module (BA2M) for mmdet and mmpretrain.

``import ba2m_mm`` registers everything: ``BA2M`` in mmengine's root ``MODELS`` (found
from every scope), ``BA2MResNet`` and the other ``BA2M*`` backbones (``BA2MResNeXt``,
``BA2MMobileNetV2``, ...) in ``mmdet.registry.MODELS`` and ``mmpretrain.registry.MODELS``
(whichever are installed), ``BA2MWeightHook``, ``AtomicCheckpointHook`` and
``CheckpointCheckHook`` in mmengine's ``HOOKS``, and the CPU launch helpers
``CPUDistributedDataParallel`` (``MODEL_WRAPPERS``) and ``CPUAmpOptimWrapper``
(``OPTIM_WRAPPERS``). It also makes mmengine load every checkpoint safely
(``ba2m_mm/checkpoint/``: ``torch.load(..., weights_only=True)`` with an allow-list), and lets
mmengine resolve ``_base_ = 'ba2m_mm::ba2m/<config>.py'`` (see
:mod:`ba2m_mm.config_inheritance`).

First of all, before anything imports torch, it sets the thread policy
(``OMP_WAIT_POLICY=PASSIVE`` unless set; :mod:`ba2m_mm.thread_policy`).
"""
from .thread_policy import apply_thread_policy

apply_thread_policy()  # before torch is imported: OpenMP reads the policy once, at load

from .config_inheritance import register_config_package  # noqa: E402
from .version import __version__  # noqa: F401,E402

register_config_package()

from . import checkpoint, engine, launch, models  # noqa: F401,E402  isort:skip
