"""tools/dist_*.sh and tools/slurm_*.sh find the project's Python (tools/find_python.sh).

The launchers run in a copy of the repository layout with stub executables (``python``,
``.venv/bin/python``, ``srun``) that only record how they were called: no torch needed.
"""
import os
import os.path as osp
import shutil
import stat
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
LAUNCHERS = {
    'dist_train.sh': ['cfg.py', '2'],
    'dist_test.sh': ['cfg.py', 'ckpt.pth', '2'],
    'slurm_train.sh': ['partition', 'job', 'cfg.py', 'work'],
    'slurm_test.sh': ['partition', 'job', 'cfg.py', 'ckpt.pth'],
}
STUB = '#!/bin/sh\necho "{name} $*" >> "$LAUNCH_LOG"\n'


def stub(path, name):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(STUB.format(name=name))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def layout(tmp_path):
    """A repository copy with the launchers, and a PATH with stub python and srun."""
    repo = tmp_path / 'repo'
    (repo / 'tools').mkdir(parents=True)
    for name in [*LAUNCHERS, 'find_python.sh']:
        shutil.copy(osp.join(REPO, 'tools', name), repo / 'tools' / name)
    bin_dir = tmp_path / 'bin'
    stub(str(bin_dir / 'python'), 'path-python')
    stub(str(bin_dir / 'srun'), 'srun')
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHON', 'VIRTUAL_ENV', 'PYTHONHOME')}
    env.update(
        PATH=f'{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin', LAUNCH_LOG=str(tmp_path / 'log'))
    return repo, env, tmp_path / 'log'


def launch(repo, env, script):
    proc = subprocess.run(['bash', str(repo / 'tools' / script), *LAUNCHERS[script]],
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc


def python_called(log, script):
    """The Python command the launcher ran (for slurm: the one srun was given)."""
    line = log.read_text().strip().splitlines()[-1]
    words = line.split()
    if script.startswith('slurm'):
        assert words[0] == 'srun'
        return words[words.index('-u') - 1]
    return words[0]


@pytest.mark.parametrize('script', sorted(LAUNCHERS))
def test_repository_venv_is_used_when_present(layout, script):
    repo, env, log = layout
    venv_python = stub(str(repo / '.venv' / 'bin' / 'python'), 'venv-python')
    proc = launch(repo, env, script)
    if script.startswith('slurm'):
        assert python_called(log, script) == venv_python
    else:
        assert python_called(log, script) == 'venv-python'
        assert '-m torch.distributed.run' in log.read_text()
    assert f'[ba2m_mm] python: {venv_python} (from the repository\'s .venv' in proc.stderr


@pytest.mark.parametrize('script', sorted(LAUNCHERS))
def test_python_variable_wins(layout, script, tmp_path):
    repo, env, log = layout
    stub(str(repo / '.venv' / 'bin' / 'python'), 'venv-python')
    own = stub(str(tmp_path / 'own' / 'python3'), 'own-python')
    proc = launch(repo, dict(env, PYTHON=own), script)
    expected = own if script.startswith('slurm') else 'own-python'
    assert python_called(log, script) == expected
    assert f'[ba2m_mm] python: {own} (from $PYTHON)' in proc.stderr


@pytest.mark.parametrize('script', sorted(LAUNCHERS))
def test_python_from_path_without_venv(layout, script):
    repo, env, log = layout
    proc = launch(repo, env, script)
    expected = 'python' if script.startswith('slurm') else 'path-python'
    assert python_called(log, script) == expected
    assert '[ba2m_mm] python: python (from PATH' in proc.stderr
