"""mmengine extensions: the hooks (``engine/hooks/``), as in mmdet and mmpretrain."""
from .hooks import *  # noqa: F401,F403
