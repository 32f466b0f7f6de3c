"""``mim search ba2m_mm`` and ``mim train ba2m_mm CONFIG`` with the installed package
(``make install``: ``pip install -e .`` and openmim, requirements/mim.txt).

Skipped where openmim is not installed (an environment not made by ``make install``) or
ba2m_mm is not pip-installed (mim finds the configs, tools/train.py and model-index.yml
through the installed distribution).
"""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
from test_launchers import NUM_TRAIN, ckpt_iter, digits, run, tiny_config  # noqa: F401

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec('mim') is None,
        reason='openmim is not installed (make install brings it)'),
]
# mim checks the installation with pkg_resources, as `mim` itself does.
MIM = [sys.executable, '-c', 'import sys; from mim.cli import cli; sys.exit(cli())']


def installed():
    try:
        from importlib.metadata import distribution
        distribution('ba2m_mm')
        return True
    except Exception:
        return False


@pytest.fixture(scope='module', autouse=True)
def need_installed_package():
    if not installed():
        pytest.skip('ba2m_mm is not pip-installed (pip install -e . / make install)')


def test_mim_search_lists_the_model_zoo(tmp_path):
    proc = subprocess.run(
        MIM + ['search', 'ba2m_mm', '--valid-config'],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, COLUMNS='200'))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'mask_rcnn_r50_ba2m_2x_coco' in proc.stdout


def test_mim_train_runs_the_packages_train_py(digits, tmp_path):  # noqa: F811
    cfg = tiny_config(tmp_path, digits, custom_imports=False, probe=False)
    work = tmp_path / 'work'
    proc = run(MIM + ['train', 'ba2m_mm', cfg, '--work-dir', str(work)], tmp_path)
    assert proc.returncode == 0, proc.out[-3000:]
    assert ckpt_iter(work / 'epoch_1.pth') == NUM_TRAIN // 2
    assert osp.isfile(work / 'last_checkpoint')
