"""DDP model wrapper for CPU processes (gloo), selected by ``cpu_distributed.py``."""
import logging

import torch.distributed as dist
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.modules.batchnorm import SyncBatchNorm


def _count_sync_bn(module) -> int:
    names = ('SyncBatchNorm', )  # torch's and mmcv's SyncBN share the class name
    return sum(isinstance(m, SyncBatchNorm) or type(m).__name__ in names for m in module.modules())


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for models on CPU.

    Differences from the parent: ``device_ids`` is forced to None (DDP rejects
    ``device_ids`` for CPU modules, and mmengine's Runner passes
    ``[LOCAL_RANK]`` by default), and SyncBN layers (which raise
    ``SyncBatchNorm expected input tensor to be on GPU`` in a CPU forward) are
    reverted to BatchNorm with mmengine's ``revert_sync_batchnorm``, with a
    warning: their statistics are then per process instead of global.

    Args:
        module (nn.Module): The model, on CPU.
        detect_anomalous_params (bool): See :class:`MMDistributedDataParallel`.
            Defaults to False.
        **kwargs: Passed to :class:`torch.nn.parallel.DistributedDataParallel`.
    """

    def __init__(self, module, detect_anomalous_params: bool = False, **kwargs):
        num_sync_bn = _count_sync_bn(module)
        if num_sync_bn:
            print_log(
                f'[ba2m_mm] SyncBN does not run on CPU: {num_sync_bn} SyncBatchNorm layers '
                'reverted to BatchNorm (batch statistics are now per process, not global). '
                'Use norm_cfg=dict(type=\'BN\') in CPU configs to silence this.',
                logger='current',
                level=logging.WARNING)
            module = revert_sync_batchnorm(module)
        kwargs['device_ids'] = None
        super().__init__(module=module, detect_anomalous_params=detect_anomalous_params, **kwargs)
        print_log(
            f'[ba2m_mm] CPU distributed data parallel: backend {dist.get_backend()!r}, '
            f'rank {dist.get_rank()} of {dist.get_world_size()}.',
            logger='current',
            level=logging.INFO)
