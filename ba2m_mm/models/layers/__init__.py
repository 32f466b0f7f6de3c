from .ba2m import BA2M, BRANCHES
from .batch_weights import NORMALIZATIONS, batch_weights, gather_global_batch
from .channel_attention import ChannelAttention
from .global_spatial import GSA_MODES, GlobalSpatialAttention
from .local_spatial import LocalSpatialAttention

__all__ = [
    'BA2M', 'BRANCHES', 'NORMALIZATIONS', 'GSA_MODES', 'ChannelAttention', 'LocalSpatialAttention',
    'GlobalSpatialAttention', 'batch_weights', 'gather_global_batch'
]
