"""The opt-in process setup of our entry points: :func:`setup_runtime`.

``import ba2m_mm`` only registers classes. What our tools also change in the process they
run in is applied by this one call, which a user's own script may make too::

    import os
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # before torch (see below)

    import ba2m_mm
    ba2m_mm.setup_runtime()

It applies

- the thread policy (:mod:`ba2m_mm.thread_policy`, ``OMP_WAIT_POLICY=PASSIVE`` unless
  set). OpenMP reads it once, when torch is imported, and ``import ba2m_mm`` imports
  torch; so an entry point sets the variable before its first import of ``ba2m_mm`` (the
  two lines above, as each of ``tools/*.py`` does), and this call then only sets it for
  child processes and reports whether this process follows it;
- safe checkpoint loading (:mod:`ba2m_mm.checkpoint.mmengine_schemes`): mmengine's
  ``CheckpointLoader`` reads local, ``http(s)://`` and ``torchvision://`` checkpoints with
  ``torch.load(..., weights_only=True)`` and ba2m_mm's allow-list; the other prefixes are
  refused (``--unsafe-load`` opts in to mmengine's own loader).

Idempotent.
"""
from .thread_policy import apply_thread_policy


def setup_runtime() -> None:
    """Apply the thread policy and make mmengine load every checkpoint safely."""
    apply_thread_policy()
    from .checkpoint.mmengine_schemes import register_safe_loaders
    register_safe_loaders()
