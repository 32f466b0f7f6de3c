from .ba2m_weight_hook import BA2MWeightHook, ba2m_weight_stats

__all__ = ['BA2MWeightHook', 'ba2m_weight_stats']
