"""The thread policy (ba2m_mm/thread_policy.py): OMP_WAIT_POLICY=PASSIVE unless the user
set it, in effect for OpenMP in every entry point because ``ba2m_mm`` is imported first.

libgomp prints the settings it read at load with ``OMP_DISPLAY_ENV=VERBOSE``:
``GOMP_SPINCOUNT = '0'`` is PASSIVE, ``'300000'`` its default (the variable unset).
"""
import ast
import os
import os.path as osp
import subprocess
import sys
from glob import glob

import pytest

from ba2m_mm import thread_policy

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Tools that do not import ba2m_mm before torch, and why. Owners: drop the entry once the
# tool imports ba2m_mm first.
NOT_YET = {}  # tools that cannot import ba2m_mm first yet, with the reason


def openmp_settings(code, *args, **env_vars):
    """stdout and stderr of ``python -c code`` (``python *args`` if ``code`` is None) with
    libgomp's settings display on."""
    env = {k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}
    env.update(OMP_DISPLAY_ENV='VERBOSE', PYTHONPATH=REPO, **env_vars)
    proc = subprocess.run([sys.executable, *(['-c', code] if code else args)],
                          env=env,
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if 'OPENMP DISPLAY ENVIRONMENT' not in proc.stderr:
        pytest.skip('torch does not use GNU OpenMP (libgomp) here')
    return proc.stdout, proc.stderr


def test_setdefault_keeps_the_users_value():
    environ = {}
    assert thread_policy.apply_thread_policy(environ) is ('torch' not in sys.modules)
    assert environ == {'OMP_WAIT_POLICY': 'PASSIVE'}
    environ = {'OMP_WAIT_POLICY': 'ACTIVE'}
    thread_policy.apply_thread_policy(environ)
    assert environ == {'OMP_WAIT_POLICY': 'ACTIVE'}


def test_import_ba2m_mm_sets_passive_before_openmp_starts():
    out, err = openmp_settings('import ba2m_mm, torch, os\n'
                               'print(ba2m_mm.thread_policy.applied_before_torch, '
                               'os.environ["OMP_WAIT_POLICY"])')
    assert out.split() == ['True', 'PASSIVE']
    assert "GOMP_SPINCOUNT = '0'" in err


def test_users_value_wins():
    out, err = openmp_settings(
        'import ba2m_mm, os; print(os.environ["OMP_WAIT_POLICY"])', OMP_WAIT_POLICY='ACTIVE')
    assert out.split() == ['ACTIVE']
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in err


def test_too_late_after_torch():
    """Why ba2m_mm must come first (mmdet's own tools with custom_imports: export it)."""
    out, err = openmp_settings('import torch, ba2m_mm\n'
                               'print(ba2m_mm.thread_policy.applied_before_torch)')
    assert out.split() == ['False']
    assert "GOMP_SPINCOUNT = '300000'" in err


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_train_and_test_run_with_the_policy(tool):
    """Also what dist_*.sh, slurm_*.sh and ``mim train ba2m_mm`` run."""
    out, err = openmp_settings(None, tool, '--help')
    assert 'usage:' in out
    assert "GOMP_SPINCOUNT = '0'" in err


def first_third_party_import(path):
    """The top-level module of the first import that is neither stdlib nor relative."""
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split('.')[0]
            if top not in sys.stdlib_module_names:
                return top
    return None


@pytest.mark.parametrize(
    'tool',
    sorted(
        osp.relpath(p, REPO) for p in glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True)))
def test_every_tool_imports_ba2m_mm_before_torch(tool):
    first = first_third_party_import(osp.join(REPO, tool))
    if tool in NOT_YET:
        pytest.skip(f'{tool}: {NOT_YET[tool]}')
    assert first in ('ba2m_mm', None), \
        f'{tool} imports {first} before ba2m_mm: the thread policy comes too late'
