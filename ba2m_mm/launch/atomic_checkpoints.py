"""Write the run's checkpoints with crash-safe writes (``AtomicCheckpointHook``)."""
import logging

from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log


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
