"""CIFAR-10 from the shared JPEG archive: splits, configs, and a few training steps of
both CPU-budget twins on a slice (no download)."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

from ba2m_mm.datasets import CIFAR10_CLASSES, ensure_cifar10_jpeg, make_cifar10_splits

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCHIVE = osp.join(osp.dirname(REPO), 'shared', 'data', 'cifar10-jpeg.tar.gz')
needs_archive = pytest.mark.skipif(
    not osp.isfile(ARCHIVE), reason='needs ../shared/data/cifar10-jpeg.tar.gz')


@pytest.fixture(scope='module')
def cifar_slice(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data') / 'cifar10')
    counts = ensure_cifar10_jpeg(root, ARCHIVE, per_class=20)
    return root, counts


def read(path):
    with open(path) as f:
        return [line.split() for line in f]


@needs_archive
def test_splits_are_fixed_disjoint_and_stratified(cifar_slice):
    root, counts = cifar_slice
    assert counts == dict(train=180, val=20, test=200)  # 20 per class: 18 / 2, test 20
    train, val, test = (read(osp.join(root, 'meta', f'{s}.txt')) for s in ('train', 'val', 'test'))
    assert not {p for p, _ in train} & {p for p, _ in val}
    assert all(p.startswith('train/') for p, _ in train + val)
    assert all(p.startswith('test/') for p, _ in test)
    assert sorted(int(label) for _, label in val) == sorted(list(range(10)) * 2)
    for path, label in train[:20]:
        assert path.split('/')[1] == CIFAR10_CLASSES[int(label)]
        assert osp.isfile(osp.join(root, path))
    # the rule is seeded: rewriting gives the same lists
    before = open(osp.join(root, 'meta', 'val.txt')).read()
    make_cifar10_splits(root, overwrite=True)
    assert open(osp.join(root, 'meta', 'val.txt')).read() == before
    with pytest.raises(ValueError, match='val_fraction must be in .0, 1., got 1.5'):
        make_cifar10_splits(root, val_fraction=1.5)


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'No CIFAR-10 JPEG set at .* \(tar -xzf'):
        ensure_cifar10_jpeg(str(tmp_path / 'nothing'))


def test_twins_differ_only_in_the_backbone():
    for ba2m, plain in (('resnet18_ba2m_cpu_cifar10.py', 'resnet18_cpu_cifar10.py'),
                        ('resnet18_ba2m_1xb128_cifar10.py', 'resnet18_1xb128_cifar10.py')):
        a, b = (Config.fromfile(osp.join(REPO, 'configs', c)).to_dict() for c in (ba2m, plain))
        backbone_a, backbone_b = a['model'].pop('backbone'), b['model'].pop('backbone')
        assert backbone_a.pop('type') == 'BA2MResNet_CIFAR' and backbone_b.pop(
            'type') == 'ResNet_CIFAR'
        backbone_a.pop('ba2m_cfg')
        backbone_a.pop('ba2m_stages', None)
        assert backbone_a == backbone_b
        assert a['custom_imports'] == dict(
            imports=['ba2m_mm', 'ba2m_mm.datasets'], allow_failed_imports=False)
        for cfg in (a, b):
            cfg.pop('filename', None)
        assert a == b
    full = Config.fromfile(osp.join(REPO, 'configs', 'resnet18_ba2m_1xb128_cifar10.py'))
    assert full.train_dataloader.batch_size == 128 and full.train_cfg.max_epochs == 200
    assert full.train_dataloader.dataset.type == 'CIFAR10Decoded'
    assert not full.data_preprocessor.to_rgb  # CIFAR10Decoded gives RGB arrays
    official = Config.fromfile(
        osp.join(REPO, 'configs', 'resnet18_ba2m_1xb128_cifar10_official.py'))
    assert official.train_dataloader.dataset.type == 'CIFAR10'
    assert official.test_dataloader.dataset.split == 'test'
    assert not official.data_preprocessor.to_rgb


def first_losses(log_dir):
    rows = [json.loads(line) for line in open(osp.join(log_dir, 'vis_data', 'scalars.json'))]
    return [r['loss'] for r in rows if 'loss' in r]


@needs_archive
def test_cpu_twins_train_on_a_slice_from_the_same_start(cifar_slice, tmp_path):
    """Both CPU-budget twins train 4 steps on a slice. With the same seed they start
    from the same weights and see the same batches, and BA2M starts as the identity:
    the first step's loss is the same number in both (it differed before the
    fair-init change: BA2M's modules drew from torch's generator before the ResNet was
    initialised). BA2M then leaves the identity, so later losses differ."""
    from ba2m_mm.compare import run_config
    root, _ = cifar_slice
    results = {}
    for config in ('resnet18_ba2m_cpu_cifar10.py', 'resnet18_cpu_cifar10.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', config))
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[loader].dataset.data_root = root
            cfg[loader].batch_size = 16
        cfg.train_dataloader.dataset.indices = 64  # 4 steps of 16 images
        cfg.train_cfg.max_epochs = 1
        cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
        cfg.default_hooks.logger.interval = 1
        cfg.work_dir = str(tmp_path / config)
        cfg.randomness = dict(seed=0)
        results[config] = run_config(cfg, 'val')
    ba2m, plain = results['resnet18_ba2m_cpu_cifar10.py'], results['resnet18_cpu_cifar10.py']
    assert ba2m['iters'] == plain['iters'] == 4
    loss_ba2m, loss_plain = first_losses(ba2m['log_dir']), first_losses(plain['log_dir'])
    assert len(loss_ba2m) == len(loss_plain) == 4
    assert loss_ba2m[0] == loss_plain[0]
    assert loss_ba2m[1:] != loss_plain[1:]
    for r in (ba2m, plain):  # 20 validation images: top-1 is a multiple of 5 %
        assert r['metrics']['accuracy/top1'] / 5 == round(r['metrics']['accuracy/top1'] / 5)
    assert sorted(ba2m['weight_spread']) == ['layer1', 'layer2', 'layer3', 'layer4']
    # BA2M starts as the identity: the first batch's weights are all 1
    assert all(s['w_std_first'] == 0 for s in ba2m['weight_spread'].values())
    assert plain['weight_spread'] == {}


def test_step_time_ratio_is_the_median_of_interleaved_steps(monkeypatch):
    """The two models' steps alternate (BA2M, plain), the warm-up steps are not
    counted, and the ratio is that of the medians: with a fake clock in which
    BA2M's steps cost 50, 50 (warm-up), 3, 3, 9 and plain's 50, 50, 2, 2, 1."""
    from ba2m_mm.analysis import step_timing
    from ba2m_mm.compare import step_time
    from ba2m_mm.models.layers import BA2M
    costs = {True: [50, 50, 3, 3, 9], False: [50, 50, 2, 2, 1]}
    clock, order = [0.0], []

    def fake_step(model, optimizer, data_batch):
        is_ba2m = any(isinstance(m, BA2M) for m in model.modules())
        order.append(is_ba2m)
        clock[0] += costs[is_ba2m][sum(o == is_ba2m for o in order) - 1]

    monkeypatch.setattr(step_time, 'sgd_step', fake_step)
    monkeypatch.setattr(step_timing.time, 'perf_counter', lambda: clock[0])  # the one timer
    monkeypatch.setattr(step_time, 'train_batches', lambda cfg, seed: iter(range(10)))
    cfgs = []
    for config in ('resnet18_ba2m_cpu_cifar10.py', 'resnet18_cpu_cifar10.py'):
        cfgs.append(Config.fromfile(osp.join(REPO, 'configs', config)))
    r = step_time.step_time_ratio(*cfgs, steps=3, warmup=2)
    assert order == [True, False] * 5
    assert (r['time'], r['reference_time'], r['ratio'], r['steps']) == (3, 2, 1.5, 3)
