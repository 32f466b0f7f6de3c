"""Suite-wide settings.

Tests use tiny tensors, for which a second intra-op thread only adds synchronisation; and
the distributed tests start two processes on a 2-core machine. One thread per process
keeps the suite fast and its run time stable when the machine is shared.
"""
import os

import pytest
import torch

os.environ.setdefault('OMP_NUM_THREADS', '1')  # inherited by subprocesses
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolate_default_scope():
    """Undo ``init_default_scope`` calls of a test.

    mmengine keeps the default scope in a process-wide instance list, and a registry builds
    in the *current* default scope: after a test set 'mmpretrain', ``mmdet.registry.MODELS``
    would build mmpretrain's ``BA2MResNet`` in the next test.
    """
    from mmengine.registry import DefaultScope
    saved = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)
