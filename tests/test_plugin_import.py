"""``import ba2m_mm`` registers, and nothing else (issue 24).

A fresh interpreter imports the package and reports: the thread-policy variable (unset),
the ba2m_mm modules it loaded (no run infrastructure, comparison, analysis, plotting or data
set code) and how many of their source lines are the model (``ba2m_mm/models``). The one
change it makes in mmengine, the ``ba2m_mm::`` config package, is checked too: mmengine
refuses ``package::`` for every package not in its table (ba2m_mm/config_inheritance.py).
"""
import json
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NOT_LOADED = ('launch', 'checkpoint', 'compare', 'analysis', 'visualization', 'datasets', 'deploy')

PROBE = r'''
import json, os, sys
from mmengine.runner.checkpoint import CheckpointLoader
before = dict(CheckpointLoader._schemes)
import ba2m_mm
from mmengine.config.utils import MODULE2PACKAGE
lines = {}
for name, module in list(sys.modules.items()):
    if (name == 'ba2m_mm' or name.startswith('ba2m_mm.')) and getattr(module, '__file__', None):
        with open(module.__file__) as f:
            lines[name] = sum(1 for _ in f)
print(json.dumps(dict(
    file=ba2m_mm.__file__, omp=os.environ.get('OMP_WAIT_POLICY'), lines=lines,
    loaders_unchanged=dict(CheckpointLoader._schemes) == before,
    config_package=MODULE2PACKAGE.get('ba2m_mm'))))
'''


def probe():
    env = {k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}
    env['PYTHONPATH'] = REPO
    proc = subprocess.run([sys.executable, '-c', PROBE],
                          env=env,
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_registers_and_nothing_else():
    result = probe()
    assert result['file'] == osp.join(REPO, 'ba2m_mm', '__init__.py')
    assert result['omp'] is None
    assert result['loaders_unchanged']
    assert result['config_package'] == 'ba2m_mm'  # the one table entry ba2m_mm:: needs
    loaded = result['lines']
    for package in NOT_LOADED:
        wrong = [
            n for n in loaded if n == f'ba2m_mm.{package}' or n.startswith(f'ba2m_mm.{package}.')
        ]
        assert not wrong, f'import ba2m_mm loads {wrong}'
    models = sum(v for n, v in loaded.items() if n.startswith('ba2m_mm.models.'))
    share = models / sum(loaded.values())
    assert share >= 0.6, f'models are {share:.0%} of the ba2m_mm lines loaded: {loaded}'


def test_import_registers_the_hooks_a_config_may_name():
    code = ('import ba2m_mm\n'
            'from mmengine.registry import HOOKS\n'
            'names = ["BA2MWeightHook", "ChannelsLastHook", "MatchedSpreadHook",\n'
            '         "AtomicCheckpointHook", "CheckpointCheckHook"]\n'
            'print(all(HOOKS.get(n) is not None for n in names))\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          env=dict(os.environ, PYTHONPATH=REPO),
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ['True']
