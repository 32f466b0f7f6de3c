"""The one-command GPU verdict (tools/analysis/cifar10_gpu_verdict.py) on CPU, with a tiny
budget, on the real JPEGs, as on the bare CUDA machine: mmdet, mmcv's ops, scipy and the
digits demo's imports absent (a subprocess that blocks them). Offline, no download."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from ba2m_mm.analysis.student_t import t_ppf
from ba2m_mm.compare.presets import default_archive, default_data_root

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(REPO, 'tools', 'analysis', 'cifar10_gpu_verdict.py')
ARMS = ('plain', 'se_identity', 'ba2m', 'random')
BUDGET = 60.0
needs_archive = pytest.mark.skipif(
    default_archive() is None or not osp.isfile(default_archive()),
    reason='needs ../shared/data/cifar10-jpeg.tar.gz')

# What a bare CUDA machine lacks, simulated: a blocked name is absent for
# importlib.util.find_spec (None in sys.modules) and for every import of it or under it.
BARE = r'''
import runpy, sys
BLOCKED = ('mmdet', 'mmcv.ops', 'mmcv._ext', 'scipy', 'pycocotools', 'tqdm', 'matplotlib',
           'sklearn')

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + '.') for b in BLOCKED):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked)', name=name)

sys.meta_path.insert(0, Blocker())
for name in BLOCKED:
    sys.modules[name] = None
import importlib.util
assert importlib.util.find_spec('mmdet') is None
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name='__main__')
stand_in = getattr(sys.modules.get('scipy'), '_ba2m_stand_in', False)  # the t quantile's
loaded = sorted(m for m, module in sys.modules.items() if module is not None and any(
    m == b or m.startswith(b + '.') for b in BLOCKED) and not (stand_in and m.startswith('scipy')))
assert not loaded, loaded
'''


def load_tool():
    spec = importlib.util.spec_from_file_location('cifar10_gpu_verdict', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def verdict(tmp_path_factory):
    """One tiny verdict in the simulated bare machine: 96 images per split, batch 32
    (3 steps an epoch), 2 seeds wanted; the decode cached under data/cifar10 is reused."""
    out = str(tmp_path_factory.mktemp('verdict'))
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    argv = [
        '--budget-s',
        str(BUDGET), '--out', out, '--device', 'cpu', '--threads', '1', '--max-images', '96',
        '--batch-size', '32', '--min-seeds', '2', '--max-seeds', '2', '--max-epochs', '50',
        '--data-root',
        default_data_root(), '--archive',
        default_archive()
    ]
    proc = subprocess.run(
        [sys.executable, '-c', BARE, TOOL] + argv,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(osp.join(out, 'verdict.json')) as f:
        report = json.load(f)
    with open(osp.join(out, 'verdict.md')) as f:
        markdown = f.read()
    return report, markdown, proc.stdout


@needs_archive
def test_the_budget_is_honoured(verdict):
    budget = verdict[0]['verdict']['budget']
    assert budget['budget_s'] == BUDGET
    assert budget['planned_s'] <= budget['budget_s']  # the tool's own accounting
    assert budget['used_s'] <= budget['budget_s']
    assert set(budget['phases']) == {'data', 'device_check', 'timing', 'runs'}


@needs_archive
def test_the_report_is_complete(verdict):
    report, markdown, _ = verdict
    plan, info = report['verdict']['plan'], report['verdict']
    planned = list(range(300, 300 + plan['seeds']))
    assert plan['seeds'] >= 1 and plan['steps'] >= 1
    # every planned seed ran in every arm, or the report says why not
    unrun = [s for s in planned if s not in info['seeds_run']]
    assert all(any(f'seed {s}' in line for line in info['not_fit']) for s in unrun)
    assert info['seeds_run'], 'no seed ran'
    rows = {row['arm']: row for row in report['summary']}
    assert set(rows) == set(ARMS)
    for arm, row in rows.items():
        assert row['seeds'] == info['seeds_run'], arm
        assert {'mean', 'std', 'median'} <= set(row['metrics']['accuracy/top1'])
    pairs = {(d['arm'], d['reference']) for d in report['differences']}
    assert pairs == {('se_identity', 'plain'), ('ba2m', 'plain'), ('random', 'plain'),
                     ('ba2m', "random, BA2M's spread")}
    assert all(len(d['ci']) == 2 and 'median' in d for d in report['differences'])
    assert {r['iters'] for r in report['results']} == {plan['steps']}
    assert set(report['step_ratios']) == {'se_identity', 'ba2m', 'random'}  # interleaved
    for heading in ('95% interval', '## Plan and budget', '## What did not fit',
                    'CUDA-vs-CPU check: skipped (no CUDA'):
        assert heading in markdown
    assert set(report['verdict']['timing']) == set(ARMS)
    assert all(t['images_per_s'] > 0 for t in report['verdict']['timing'].values())
    # the random arm follows BA2M's spread: its weights spread too
    assert rows['random']['weight_spread'] and rows['ba2m']['weight_spread']


@needs_archive
def test_it_says_what_did_not_fit(verdict):
    report, markdown, _ = verdict
    not_fit = report['verdict']['not_fit']
    assert any('epochs' in line and 'needs' in line for line in not_fit)
    assert any('full recipe (200 epochs)' in line for line in not_fit)
    assert all(f'- {line}' in markdown for line in not_fit)


@needs_archive
def test_same_seed_same_initial_weights_in_every_arm(verdict):
    fingerprints = verdict[0]['verdict']['fingerprints']
    assert fingerprints
    for seed, arms in fingerprints.items():
        assert set(arms) == set(ARMS) and len(set(arms.values())) == 1, seed
    if len(fingerprints) > 1:  # and another seed, other weights
        assert len({arms['plain'] for arms in fingerprints.values()}) == len(fingerprints)


@needs_archive
def test_it_ran_as_on_the_bare_machine(verdict):
    environment = verdict[0]['verdict']['environment']
    assert environment['t_quantile'] == 'ba2m_mm.analysis.student_t'  # scipy blocked
    assert 'without the package __init__' in environment['data']['modules']
    assert environment['precision'] == 'fp32' and environment['threads'] == 1


@pytest.mark.parametrize('argv, message', [
    (['--budget-s', '-5'], "--budget-s: must be >= 1, got '-5'"),
    (['--budget-s', 'soon'], "--budget-s: must be a float, got 'soon'"),
    (['--budget-s', '60', '--max-images', '0'], "--max-images: must be >= 2, got '0'"),
    (['--budget-s', '60', '--batch-size', '1'], "--batch-size: must be >= 2, got '1'"),
    (['--budget-s', '60', '--min-seeds', '6', '--max-seeds', '3'
      ], '--min-seeds 6 is above --max-seeds 3'),
    (['--budget-s', '60', '--archive', '/nowhere/c.tar.gz'
      ], "--archive: no such file: '/nowhere/c.tar.gz'"),
    (['--budget-s', '60', '--device', 'gpu'], "--device: invalid choice: 'gpu'"),
])
def test_option_errors_name_the_option_and_the_value(argv, message, capsys):
    with pytest.raises(SystemExit):
        load_tool().parse_args(argv)
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the error without CUDA')
def test_device_cuda_without_cuda_is_an_error(capsys):
    with pytest.raises(SystemExit):
        load_tool().main(['--budget-s', '60', '--device', 'cuda'])
    assert '--device cuda: no CUDA device' in capsys.readouterr().err


def test_plan_fits_the_time_and_says_what_did_not():
    from ba2m_mm.compare.verdict import plan_runs, seed_cost
    times = {a: dict(build=0.5, step=0.1, eval_batch=0.2) for a in ARMS}
    plan = plan_runs(100.0, times, 10, 1, min_seeds=2, max_seeds=5, max_epochs=200)
    assert plan['seeds'] >= 2 and plan['planned_s'] <= 100.0
    assert seed_cost(times, (plan['epochs'] + 1) * 10, 1) * 2 > 100.0  # one more epoch: no
    assert plan['not_fit'][0].startswith(f'{plan["epochs"] + 1} epochs x')
    # a seed: 2.8 s fixed (build, evaluation) + 0.46 s a step; an epoch is 10 steps
    assert plan_runs(7.5, times, 10, 1, 5, 5, 200)['seeds'] == 1  # fewer seeds first
    for available, seeds, steps in ((7.0, 2, 1), (6.0, 1, 6)):  # then part of an epoch
        short = plan_runs(available, times, 10, 1, min_seeds=5, max_seeds=5, max_epochs=200)
        assert (short['seeds'], short['steps']) == (seeds, steps)
        assert short['planned_s'] <= available and short['epochs'] == steps / 10
        assert short['not_fit'][0].startswith('5 seeds x 1 epoch: needs')
    nothing = plan_runs(1.0, times, 10, 1, min_seeds=2, max_seeds=5, max_epochs=200)
    assert nothing['seeds'] == 0 and nothing['planned_s'] == 0


def test_augmentation_crops_the_padded_image_and_flips():
    from ba2m_mm.compare.verdict_data import DeviceSplit
    images = torch.randint(0, 256, (6, 32, 32, 3), dtype=torch.uint8)  # (N, 32, 32, 3)
    split = DeviceSplit(images, torch.arange(6), mean=[0, 0, 0], std=[1, 1, 1])
    index = torch.tensor([5, 0, 3])
    x, y = split.augmented(index, torch.Generator().manual_seed(1))
    assert x.shape == (3, 3, 32, 32) and x.is_contiguous(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(1)  # the same draws, by hand
    offsets, flip = torch.randint(0, 9, (2, 3), generator=g), torch.rand(3, generator=g) < 0.5
    padded = torch.nn.functional.pad(images[index].permute(0, 3, 1, 2), (4, 4, 4, 4))
    for i in range(3):
        crop = padded[i, :, offsets[0, i]:offsets[0, i] + 32, offsets[1, i]:offsets[1, i] + 32]
        crop = crop.flip(-1) if flip[i] else crop
        assert torch.equal(x[i], crop.float()), i
    assert torch.equal(y, index)


def test_device_check_runs_dry_on_cpu():
    from mmengine.config import Config

    import ba2m_mm  # noqa: F401
    from ba2m_mm.compare.testbed import testbed_configs
    from ba2m_mm.compare.verdict_check import compare_devices
    from ba2m_mm.compare.verdict_data import DeviceSplit
    images = torch.randint(0, 256, (16, 32, 32, 3), dtype=torch.uint8)
    split = DeviceSplit(images, torch.arange(16) % 10, mean=[125, 123, 114], std=[51, 51, 51])
    check = compare_devices(
        Config.fromfile(testbed_configs()['ba2m']), split, torch.device('cpu'), batch=16)
    assert check['ok'] and check['worst'] == 0.0 and check['gsa_mode'] == 'exact'
    assert max(check['weight_spread']) > 0  # the weights are not all 1 in the check


def test_t_quantile_without_scipy_matches_scipy():
    stats = pytest.importorskip('scipy.stats')
    for df in (1, 2, 4, 9, 30, 200):
        assert t_ppf(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-10)
