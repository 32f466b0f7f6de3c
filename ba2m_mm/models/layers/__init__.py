from .ba2m import BA2M, BRANCHES, STATISTICS
from .batch_weights import NORMALIZATIONS, batch_weights
from .channel_attention import ChannelAttention
from .global_batch import all_gather_with_grad, is_distributed, sum_over_processes
from .global_spatial import GSA_MODES, GlobalSpatialAttention
from .local_spatial import LocalSpatialAttention
from .random_ba2m import RandomBA2M
from .response_norm import ResponseNorm, normalised_responses
from .sample_attention import SampleAttention, sample_attention
from .squeeze_excitation import SqueezeExcitation

__all__ = [
    'BA2M', 'RandomBA2M', 'SqueezeExcitation', 'STATISTICS', 'BRANCHES', 'NORMALIZATIONS',
    'GSA_MODES', 'ChannelAttention', 'LocalSpatialAttention', 'GlobalSpatialAttention',
    'ResponseNorm', 'normalised_responses', 'SampleAttention', 'sample_attention', 'batch_weights',
    'all_gather_with_grad', 'is_distributed', 'sum_over_processes'
]
