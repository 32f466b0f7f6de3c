from .ba2m import BA2M, BRANCHES
from .batch_weights import NORMALIZATIONS, batch_weights
from .channel_attention import ChannelAttention
from .global_batch import all_gather_with_grad, is_distributed, sum_over_processes
from .global_spatial import GSA_MODES, GlobalSpatialAttention
from .local_spatial import LocalSpatialAttention
from .response_norm import ResponseNorm, normalised_responses
from .sample_attention import SampleAttention, sample_attention

__all__ = [
    'BA2M', 'BRANCHES', 'NORMALIZATIONS', 'GSA_MODES', 'ChannelAttention', 'LocalSpatialAttention',
    'GlobalSpatialAttention', 'ResponseNorm', 'normalised_responses', 'SampleAttention',
    'sample_attention', 'batch_weights', 'all_gather_with_grad', 'is_distributed',
    'sum_over_processes'
]
