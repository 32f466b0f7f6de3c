"""Suite-wide settings.

Tests use tiny tensors, for which a second intra-op thread only adds synchronisation; and
the distributed tests start two processes on a 2-core machine. One thread per process
keeps the suite fast and its run time stable when the machine is shared.
"""
import os

import torch

os.environ.setdefault('OMP_NUM_THREADS', '1')  # inherited by subprocesses
torch.set_num_threads(1)
