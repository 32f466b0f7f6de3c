"""Checkpoints: loading that never runs code from the file, and the checkpoints of a run.

- ``safe_load.py``: :func:`load_checkpoint_file`, ``torch.load(..., weights_only=True)``
  with the allow-list of ``allow_list.py``; refused files raise
  :class:`UnsafeCheckpointError` naming the file and the refused globals
  (found by ``pickle_globals.py``);
- ``unsafe_opt_in.py``: ``--unsafe-load`` / ``BA2M_MM_UNSAFE_LOAD=1`` for trusted files;
- ``validate.py``: :class:`InvalidCheckpointError` for files that are not a dict, hold no
  state dict, do not fit the model or cannot be resumed from;
- ``load_weights.py``: :func:`load_weights` into a model, for tools that build one;
- ``mmengine_schemes.py``: :func:`register_safe_loaders`, the same loader in mmengine's
  ``CheckpointLoader`` (local, http(s), torchvision://; the other prefixes refused), so the
  Runner's ``load_from``/``resume`` and ``init_cfg`` pretrained weights load safely.
  :func:`ba2m_mm.setup_runtime` calls it; importing this package registers nothing;
- ``run_config.py``: the checkpoints of a run, set in its config by tools/train.py and
  tools/test.py: ``--resume`` and the tested checkpoint, a missing file failing at once,
  the check of a tested or resumed checkpoint and crash-safe writes.

The two hooks a config may name, ``AtomicCheckpointHook`` (crash-safe writes) and
``CheckpointCheckHook`` (the check above), are in ``ba2m_mm/engine/hooks/``:
``import ba2m_mm`` registers them without loading this package.
"""
from .load_weights import load_weights
from .run_config import (check_pretrained_paths, check_resumed_checkpoint, check_tested_checkpoint,
                         local_pretrained_paths, set_resume, set_test_checkpoint,
                         use_atomic_checkpoints)
from .safe_load import (UnsafeCheckpointError, checkpoint_source, load_checkpoint_file,
                        refused_globals)
from .unsafe_opt_in import UNSAFE_LOAD_ENV, allow_unsafe_load, unsafe_load_allowed
from .validate import (InvalidCheckpointError, check_resumable, check_shapes, checkpoint_dict,
                       state_dict_of)

__all__ = [
    'load_checkpoint_file', 'load_weights', 'UnsafeCheckpointError', 'InvalidCheckpointError',
    'refused_globals', 'checkpoint_source', 'UNSAFE_LOAD_ENV', 'allow_unsafe_load',
    'unsafe_load_allowed', 'checkpoint_dict', 'state_dict_of', 'check_shapes', 'check_resumable',
    'set_resume', 'set_test_checkpoint', 'check_pretrained_paths', 'local_pretrained_paths',
    'check_tested_checkpoint', 'check_resumed_checkpoint', 'use_atomic_checkpoints'
]
