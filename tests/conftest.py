"""Suite-wide settings.

Tests use tiny tensors, for which a second intra-op thread only adds synchronisation; and
the distributed tests start two processes on a 2-core machine. One thread per process
keeps the suite fast and its run time stable when the machine is shared.

``make test`` runs the suite on two pytest-xdist workers with ``--dist loadgroup``. A test
that uses a module-scoped fixture (a trained checkpoint, a built wheel, a data set) is put
in its module's ``xdist_group`` here, so that the fixture is built once, on one worker, as
in a serial run; the other tests go to whichever worker is free. Every test writes under
its own ``tmp_path`` and picks a free port, so the two workers share no path or port.
"""
import os

import pytest
import torch

os.environ.setdefault('OMP_NUM_THREADS', '1')  # inherited by subprocesses
torch.set_num_threads(1)


def _uses_module_fixture(item):
    """Whether ``item`` requests (directly or through other fixtures) a module-scoped one."""
    info = getattr(item, '_fixtureinfo', None)
    if info is None:
        return False
    return any(defs and defs[-1].scope == 'module'
               for defs in (info.name2fixturedefs.get(name) for name in info.names_closure))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker('xdist_group') is None and _uses_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


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
