"""The thread policy (ba2m_mm/thread_policy.py): OMP_WAIT_POLICY=PASSIVE unless the user
set it, in effect for OpenMP in every entry point, which sets it before its first
third-party import and then calls ``ba2m_mm.setup_runtime()``; ``import ba2m_mm`` alone
sets nothing.

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
# Tools that do not set the policy before torch, and why. Owners: drop the entry once the
# tool does.
NOT_YET = {}  # tools that cannot set the policy first yet, with the reason
TOOLS = sorted(
    osp.relpath(p, REPO) for p in glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True))


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


def test_import_ba2m_mm_sets_nothing():
    out, err = openmp_settings('import ba2m_mm, os\n'
                               'print(os.environ.get("OMP_WAIT_POLICY"), '
                               'ba2m_mm.thread_policy.applied_before_torch)')
    assert out.split() == ['None', 'None']
    assert "GOMP_SPINCOUNT = '300000'" in err


def test_setup_runtime_sets_it_for_child_processes():
    """After ``import ba2m_mm`` torch is loaded: the call sets the variable (for child
    processes) and says that this process's OpenMP did not read it."""
    out, _ = openmp_settings('import ba2m_mm, os\n'
                             'ba2m_mm.setup_runtime()\n'
                             'print(os.environ["OMP_WAIT_POLICY"], '
                             'ba2m_mm.thread_policy.applied_before_torch)')
    assert out.split() == ['PASSIVE', 'False']


def test_users_value_wins():
    out, err = openmp_settings(
        'import ba2m_mm, os; ba2m_mm.setup_runtime(); print(os.environ["OMP_WAIT_POLICY"])',
        OMP_WAIT_POLICY='ACTIVE')
    assert out.split() == ['ACTIVE']
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in err


def test_too_late_after_torch():
    """Why the tools set it before any import (mmdet's own tools with custom_imports:
    export it)."""
    out, err = openmp_settings('import torch, ba2m_mm\n'
                               'ba2m_mm.setup_runtime()\n'
                               'print(ba2m_mm.thread_policy.applied_before_torch)')
    assert out.split() == ['False']
    assert "GOMP_SPINCOUNT = '300000'" in err


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_train_and_test_run_with_the_policy(tool):
    """Also what dist_*.sh, slurm_*.sh and ``mim train ba2m_mm`` run."""
    out, err = openmp_settings(None, tool, '--help')
    assert 'usage:' in out
    assert "GOMP_SPINCOUNT = '0'" in err


def prologue(path):
    """The top-level statements of a tool before its first import that is neither stdlib
    nor relative, and that import's top-level module."""
    tree = ast.parse(open(path).read())
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split('.')[0]
            if top not in sys.stdlib_module_names:
                return tree.body[:index], top
    return tree.body, None


def sets_the_policy(statements):
    """Whether one of ``statements`` sets each variable of THREAD_ENV to its value when it
    is unset (``if KEY not in os.environ: os.environ[KEY] = VALUE``)."""
    wanted = {(k, v) for k, v in thread_policy.THREAD_ENV.items()}
    found = set()
    for node in statements:
        if not isinstance(node, ast.If):
            continue
        test = ast.unparse(node.test)
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                key = ast.unparse(stmt.targets[0])
                for k, v in thread_policy.THREAD_ENV.items():
                    if key == f"os.environ['{k}']" and test == f"'{k}' not in os.environ" \
                            and stmt.value.value == v:
                        found.add((k, v))
    return wanted <= found


@pytest.mark.parametrize('tool', TOOLS)
def test_every_tool_sets_the_policy_before_torch(tool):
    if tool in NOT_YET:
        pytest.skip(f'{tool}: {NOT_YET[tool]}')
    statements, first = prologue(osp.join(REPO, tool))
    assert first in ('ba2m_mm', None), f'{tool}: {first} before ba2m_mm'
    assert sets_the_policy(statements), \
        f'{tool} does not set {thread_policy.THREAD_ENV} before its first third-party import'


@pytest.mark.parametrize('tool', TOOLS)
def test_every_tool_calls_setup_runtime_first_in_main(tool):
    tree = ast.parse(open(osp.join(REPO, tool)).read())
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'main')
    assert ast.unparse(main.body[0]) == 'ba2m_mm.setup_runtime()', tool
