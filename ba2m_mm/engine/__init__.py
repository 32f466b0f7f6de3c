from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .hooks import *  # noqa: F401,F403
