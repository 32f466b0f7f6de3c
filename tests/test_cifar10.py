"""CIFAR-10 from the shared JPEG archive: splits, configs, and a few training steps of
both CPU-budget twins on a slice (no download)."""
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
        assert a.pop('custom_imports') == dict(imports=['ba2m_mm'], allow_failed_imports=False)
        for cfg in (a, b):
            cfg.pop('filename', None)
        assert a == b
    full = Config.fromfile(osp.join(REPO, 'configs', 'resnet18_ba2m_1xb128_cifar10.py'))
    assert full.train_dataloader.batch_size == 128 and full.train_cfg.max_epochs == 200
    assert full.data_preprocessor.to_rgb  # JPEGs load as BGR
    official = Config.fromfile(
        osp.join(REPO, 'configs', 'resnet18_ba2m_1xb128_cifar10_official.py'))
    assert official.train_dataloader.dataset.type == 'CIFAR10'
    assert official.test_dataloader.dataset.split == 'test'
    assert not official.data_preprocessor.to_rgb


@needs_archive
@pytest.mark.parametrize('config', ['resnet18_ba2m_cpu_cifar10.py', 'resnet18_cpu_cifar10.py'])
def test_cpu_configs_train_on_a_slice(cifar_slice, tmp_path, config):
    from ba2m_mm.compare import run_config
    root, _ = cifar_slice
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
        cfg[loader].batch_size = 16
    cfg.train_dataloader.dataset.indices = 64  # 4 steps of 16 images
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=0)
    result = run_config(cfg, 'val')
    assert result['iters'] == 4
    assert 0 <= result['metrics']['accuracy/top1'] <= 100
    if 'ba2m' in config:
        assert sorted(result['weight_spread']) == ['layer1', 'layer2', 'layer3', 'layer4']
        # BA2M starts as the identity: the first batch's weights are all 1
        assert all(s['w_std_first'] == 0 for s in result['weight_spread'].values())
    else:
        assert result['weight_spread'] == {}


@needs_archive
def test_step_time_ratio_side_by_side(cifar_slice):
    from ba2m_mm.compare.step_time import step_time_ratio
    root, _ = cifar_slice
    cfgs = []
    for config in ('resnet18_ba2m_cpu_cifar10.py', 'resnet18_cpu_cifar10.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', config))
        cfg.train_dataloader.dataset.data_root = root
        cfg.train_dataloader.batch_size = 8
        cfgs.append(cfg)
    r = step_time_ratio(*cfgs, steps=2, warmup=1)
    assert r['steps'] == 2 and r['time'] > 0 and r['reference_time'] > 0
    assert r['ratio'] == pytest.approx(r['time'] / r['reference_time'])
