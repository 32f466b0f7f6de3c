from .atomic_checkpoint_hook import AtomicCheckpointHook
from .ba2m_weight_hook import BA2MWeightHook, ba2m_weight_stats
from .channels_last_hook import ChannelsLastHook
from .checkpoint_check_hook import CheckpointCheckHook
from .matched_spread_hook import MatchedSpreadHook

__all__ = [
    'AtomicCheckpointHook', 'BA2MWeightHook', 'ba2m_weight_stats', 'ChannelsLastHook',
    'CheckpointCheckHook', 'MatchedSpreadHook'
]
