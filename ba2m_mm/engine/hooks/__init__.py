from .atomic_checkpoint_hook import AtomicCheckpointHook
from .ba2m_weight_hook import BA2MWeightHook, ba2m_weight_stats
from .checkpoint_check_hook import CheckpointCheckHook

__all__ = ['AtomicCheckpointHook', 'BA2MWeightHook', 'ba2m_weight_stats', 'CheckpointCheckHook']
