"""The CPU detection testbed (paper Tables III and IV on the digits set): its test split,
its twins (which differ only in what the paper varies), fair pairing and one training step
per config."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from ba2m_mm.compare.classifier import build_classifier, sgd_step, train_batches
from ba2m_mm.compare.det_testbed import (DET_PRESETS, DIGITS_TESTBED, det_testbed_arms,
                                         digits_cfg_options, ensure_digits_testbed)
from ba2m_mm.compare.presets import preset
from ba2m_mm.datasets import build_digits_coco
from ba2m_mm.datasets.digits_demo import scan_pools

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
LAB = osp.join(REPO, 'configs', 'lab')
CONFIGS = {
    name: osp.join(LAB, f'{name}_digits_testbed.py')
    for name in ('retinanet_r18_focal', 'retinanet_r18_ce', 'retinanet_r18_ba2m_ce',
                 'retinanet_r18_ba2m_focal', 'faster_rcnn_r18', 'faster_rcnn_r18_ohem',
                 'faster_rcnn_r18_ba2m')
}
TINY = dict(num_train=4, num_val=2, num_test=2, image_size=64, digit_size=(16, 24), seed=0)


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('digits_testbed'))
    build_digits_coco(root, progress=False, **TINY)
    return root


def test_test_split_draws_from_scans_of_its_own():
    pools = scan_pools(1797, seed=0, test=True)
    assert [len(pools[s]) for s in ('train', 'val', 'test')] == [1347, 225, 225]
    together = np.concatenate(list(pools.values()))
    assert sorted(together.tolist()) == list(range(1797))  # disjoint, and all of them
    # without a test split, train is the same and val keeps the rest (the demo's set)
    demo = scan_pools(1797, seed=0)
    assert np.array_equal(demo['train'], pools['train']) and len(demo['val']) == 450


def test_tiny_set_has_three_splits(tiny_root):
    import json
    counts = {}
    for split in ('train', 'val', 'test'):
        with open(osp.join(tiny_root, 'annotations', f'instances_{split}.json')) as f:
            counts[split] = len(json.load(f)['images'])
    assert counts == dict(train=4, val=2, test=2)
    with pytest.raises(ValueError, match=r'num_test must be an int >= 0, got -1'):
        build_digits_coco(tiny_root, num_test=-1)


def test_ensure_refuses_a_set_of_other_sizes(tiny_root):
    with pytest.raises(
            SystemExit,
            match=r"not the testbed's \{'train': 800, 'val': 200, "
            r"'test': 200\}: delete it to rebuild"):
        ensure_digits_testbed(tiny_root)
    assert DIGITS_TESTBED == dict(num_train=800, num_val=200, num_test=200, seed=0)


def _model_dict(name):
    return Config.fromfile(CONFIGS[name]).to_dict()


def _without(d, *paths):
    import copy
    d = copy.deepcopy(d)
    for path in paths:
        node = d
        *parents, last = path.split('.')
        for p in parents:
            node = node[p]
        node.pop(last)
    return d


@pytest.mark.parametrize('twin, reference, differences', [
    ('retinanet_r18_ce', 'retinanet_r18_focal',
     ['model.bbox_head.loss_cls', 'model.train_cfg.sampler']),
    ('retinanet_r18_ba2m_ce', 'retinanet_r18_ce', ['model.backbone', 'custom_imports']),
    ('retinanet_r18_ba2m_focal', 'retinanet_r18_focal', ['model.backbone', 'custom_imports']),
    ('faster_rcnn_r18_ohem', 'faster_rcnn_r18', ['model.train_cfg.rcnn.sampler.type']),
    ('faster_rcnn_r18_ba2m', 'faster_rcnn_r18', ['model.backbone', 'custom_imports']),
])
def test_twins_differ_only_in_what_the_paper_varies(twin, reference, differences):
    a, b = _model_dict(twin), _model_dict(reference)
    if 'custom_imports' in differences:  # the plain twins need no ba2m_mm import
        b.setdefault('custom_imports', None)
    assert _without(a, *differences) == _without(b, *differences)
    for path in differences:  # ... and they do differ there
        va, vb = a, b
        for p in path.split('.'):
            va, vb = va[p], (vb or {}).get(p)
        assert va != vb
    if 'model.backbone' in differences:
        ba2m, plain = a['model']['backbone'], b['model']['backbone']
        assert ba2m.pop('type') == 'BA2MResNet' and plain.pop('type') == 'ResNet'
        assert ba2m.pop('ba2m_stages') == (True, True, True, True)
        assert ba2m.pop('ba2m_cfg') == dict(
            reduction=16, normalize='scaled_softmax', sync=False, gsa_mode='auto')
        assert ba2m == plain


def test_ce_twin_uses_the_softmax_config_of_table_iii():
    """The cross-entropy and sampler are those of retinanet_r50_ba2m_softmax_1x_voc0712.py."""
    paper = Config.fromfile(osp.join(REPO, 'configs', 'retinanet_r50_ba2m_softmax_1x_voc0712.py'))
    ours = Config.fromfile(CONFIGS['retinanet_r18_ce'])
    assert ours.model.bbox_head.loss_cls == paper.model.bbox_head.loss_cls
    assert ours.model.train_cfg.sampler == paper.model.train_cfg.sampler
    assert ours.train_dataloader.batch_size == 8  # BA2M sees 8 images per batch in every arm


@pytest.mark.parametrize('twin, reference', [('retinanet_r18_ba2m_ce', 'retinanet_r18_ce'),
                                             ('faster_rcnn_r18_ba2m', 'faster_rcnn_r18')])
def test_same_seed_same_initial_weights(twin, reference):
    """Every tensor the BA2M twin shares with its plain twin is equal after building with
    the same seed (BA2M draws from a generator of its own); another seed differs."""
    ba2m = build_classifier(Config.fromfile(CONFIGS[twin]), seed=3).state_dict()
    plain = build_classifier(Config.fromfile(CONFIGS[reference]), seed=3).state_dict()
    assert set(plain) < set(ba2m)
    assert [k for k, v in plain.items() if not torch.equal(v, ba2m[k])] == []
    other = build_classifier(Config.fromfile(CONFIGS[reference]), seed=4).state_dict()
    assert not torch.equal(other['backbone.conv1.weight'], plain['backbone.conv1.weight'])


def _tiny_cfg(name, root):
    cfg = Config.fromfile(CONFIGS[name])
    cfg.merge_from_dict(digits_cfg_options(root))
    cfg.train_dataloader.batch_size = 2
    return cfg


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_builds_and_trains_one_step(name, tiny_root):
    cfg = _tiny_cfg(name, tiny_root)
    model = build_classifier(cfg, seed=0)
    batch = next(train_batches(cfg, seed=0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    before = [p.detach().clone() for p in model.parameters()]
    loss = sgd_step(model, optimizer, batch)
    assert torch.isfinite(loss) and loss > 0
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_same_seed_same_data_order(tiny_root):
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = _tiny_cfg('retinanet_r18_focal', tiny_root)
    other = _tiny_cfg('retinanet_r18_ba2m_ce', tiny_root)

    def order(c, seed):
        return [[s.img_id for s in b['data_samples']] for b in train_batches(c, seed=seed)]

    assert order(cfg, 5) == order(other, 5)


def test_presets_and_data_options(tiny_root):
    assert DET_PRESETS == ('det-testbed-retinanet', 'det-testbed-faster')
    retina = preset('det-testbed-retinanet')
    assert [a.name for a in retina['arms']] == ['focal', 'ce', 'ba2m_ce', 'ba2m_focal']
    assert retina['reference'] == 'focal' and retina['data'] == dict(kind='digits-testbed')
    assert retina['metrics'] == ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'pascal_voc/mAP')
    assert [a.name for a in preset('det-testbed-faster')['arms']] == ['plain', 'ohem', 'ba2m']
    assert all(osp.isfile(a.config) for p in DET_PRESETS for a in preset(p)['arms'])
    options = digits_cfg_options(tiny_root)
    root = osp.join(osp.abspath(tiny_root), '')
    assert options['test_dataloader.dataset.data_root'] == root
    assert options['test_evaluator.0.ann_file'] == f'{root}annotations/instances_test.json'
    cfg = Config.fromfile(CONFIGS['faster_rcnn_r18'])
    cfg.merge_from_dict(options)
    assert cfg.val_evaluator[0].ann_file.endswith('instances_val.json')
    assert cfg.val_evaluator[1] == dict(type='VOCMetric', metric='mAP', eval_mode='11points')
    with pytest.raises(ValueError, match=r"preset must be one of .*got 'det-testbed-mask'"):
        det_testbed_arms('det-testbed-mask', REPO)
