"""The thread policy of every ba2m_mm entry point: idle OpenMP threads sleep.

PyTorch's CPU kernels run on OpenMP (GNU libgomp). By default an OpenMP thread that
finishes its share of a parallel region spins for a while (``GOMP_SPINCOUNT`` 300000)
waiting for the next one. On a machine where another process uses a core, the spinning
threads and that process take turns on the cores and every parallel region waits for the
slowest thread: ``tools/test.py`` on the demo checkpoint took 4.15 s an iteration with a
busy core and 0.59 s with ``OMP_WAIT_POLICY=PASSIVE`` (issue 20). With ``PASSIVE``, idle
threads sleep at once (``GOMP_SPINCOUNT`` 0).

libgomp reads ``OMP_WAIT_POLICY`` once, when it is loaded, that is when ``torch`` is first
imported, and ``import ba2m_mm`` imports torch (it registers the models). So ``import
ba2m_mm`` does not set it (a plugin import changes no environment); each of our entry points
sets it itself, before its first third-party import::

    import os
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # THREAD_ENV, before torch

    import ba2m_mm
    ba2m_mm.setup_runtime()  # applies THREAD_ENV again (child processes), safe loading

That is ``tools/train.py`` and ``tools/test.py`` (hence ``dist_train.sh``,
``dist_test.sh``, ``slurm_*.sh`` and ``mim train ba2m_mm``, which run them), the
comparison, demo, analysis and deploy tools (``tests/test_thread_policy.py`` checks each).
A value the user set (``OMP_WAIT_POLICY=ACTIVE``) wins. A process that imported torch
first (mmdet's own ``tools/train.py`` with ``custom_imports=dict(imports=['ba2m_mm'])``)
keeps libgomp's default: export ``OMP_WAIT_POLICY=PASSIVE`` in the shell there.

This module imports nothing but the standard library.
"""
import os
import sys
from typing import MutableMapping, Optional

#: Environment variables of the policy and their values; a value already set wins.
THREAD_ENV = {'OMP_WAIT_POLICY': 'PASSIVE'}

#: Whether the last :func:`apply_thread_policy` ran before torch was imported. None: not
#: applied yet.
applied_before_torch: Optional[bool] = None


def apply_thread_policy(environ: Optional[MutableMapping[str, str]] = None) -> bool:
    """Set each variable of :data:`THREAD_ENV` that is not set yet (``setdefault``).

    Idempotent. :func:`ba2m_mm.setup_runtime` calls it.

    Args:
        environ (MutableMapping[str, str], optional): The environment to change.
            Defaults to ``os.environ``.

    Returns:
        bool: True when torch was not imported yet, so that OpenMP in this process
        reads the values; False when only child processes will.
    """
    global applied_before_torch
    environ = os.environ if environ is None else environ
    for key, value in THREAD_ENV.items():
        environ.setdefault(key, value)
    applied_before_torch = 'torch' not in sys.modules
    return applied_before_torch
