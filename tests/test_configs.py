"""Every config in ``configs/`` (except ``demo_*``) loads, states only its deltas to upstream,
builds in its own scope, trains one step and predicts on tiny synthetic inputs.

The model structure a config defines is kept (ResNet depth 50/101, FPN, heads); only the
image size shrinks and pretrained loading is disabled, so nothing is downloaded.
"""
import ast
import copy
import functools
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
CONFIGS = sorted(p.name for p in CONFIG_DIR.glob('*.py') if not p.name.startswith('demo_'))

CUSTOM_IMPORTS = dict(imports=['ba2m_mm'], allow_failed_imports=False)
# Changed paths every BA2M config may have with respect to its upstream config.
BA2M_DELTA = ('custom_imports.', 'model.backbone.type', 'model.backbone.ba2m_stages',
              'model.backbone.ba2m_cfg.')
DET_BA2M_CFG = dict(reduction=32, normalize='scaled_softmax', sync=True, gsa_mode='auto')
# The BA2M detection configs take their backbone options from this base and variable
# (mmengine keeps a base variable in the merged config, at the top level).
DET_BASE = '_base_/ba2m_det_backbone.py'
DET_BASE_VAR = 'ba2m_det_backbone'
CLS_BA2M_CFG = dict(reduction=32, normalize='scaled_softmax', sync=True, gsa_mode='auto')

# Our config -> the upstream config it must equal, up to BA2M_DELTA for BA2M configs (named
# '*ba2m*') and up to EXTRA_DELTA.
UPSTREAM = {
    'faster_rcnn_r50_ba2m_2x_coco.py': 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py',
    'faster_rcnn_r101_ba2m_2x_coco.py': 'mmdet::faster_rcnn/faster-rcnn_r101_fpn_2x_coco.py',
    'mask_rcnn_r50_ba2m_2x_coco.py': 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_2x_coco.py',
    'mask_rcnn_r101_ba2m_2x_coco.py': 'mmdet::mask_rcnn/mask-rcnn_r101_fpn_2x_coco.py',
    'retinanet_r50_ba2m_2x_coco.py': 'mmdet::retinanet/retinanet_r50_fpn_2x_coco.py',
    'faster_rcnn_r50_ba2m_1x_voc0712.py': 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py',
    'retinanet_r50_ba2m_1x_voc0712.py': 'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py',
    'retinanet_r50_ba2m_softmax_1x_voc0712.py': 'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py',
    'retinanet_r50_focal_1x_voc0712.py': 'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py',
    'faster_rcnn_r50_ohem_1x_voc0712.py': 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py',
    'resnet50_ba2m_8xb32_in1k.py': 'mmpretrain::resnet/resnet50_8xb32_in1k.py',
    'resnet101_ba2m_8xb32_in1k.py': 'mmpretrain::resnet/resnet101_8xb32_in1k.py',
    'resnet50_ba2m_8xb16_cifar100.py': 'mmpretrain::resnet/resnet50_8xb16_cifar100.py',
    'resnext50_ba2m_8xb32_in1k.py': 'mmpretrain::resnext/resnext50-32x4d_8xb32_in1k.py',
    'resnext101_ba2m_8xb32_in1k.py': 'mmpretrain::resnext/resnext101-32x4d_8xb32_in1k.py',
    'faster_rcnn_x101_ba2m_2x_coco.py': 'mmdet::faster_rcnn/faster-rcnn_x101-32x4d_fpn_2x_coco.py',
    'mobilenet_v2_ba2m_8xb32_in1k.py': 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
    'resnet18_1xb128_cifar10.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_ba2m_1xb128_cifar10.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_ba2m_1xb128_cifar10_official.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_cpu_cifar10.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_ba2m_cpu_cifar10.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_cifar10_testbed.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_ba2m_cifar10_testbed.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_se_cifar10_testbed.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_se_identity_cifar10_testbed.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'resnet18_random_cifar10_testbed.py': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
}
# Configs with a BA2M backbone whose modules are controls (SE, random reweighting)
CONTROL_CONFIGS = ('resnet18_se_cifar10_testbed.py', 'resnet18_se_identity_cifar10_testbed.py',
                   'resnet18_random_cifar10_testbed.py')
# CIFAR-10 configs import the dataset module too, whatever their backbone
CIFAR10_IMPORTS = dict(imports=['ba2m_mm', 'ba2m_mm.datasets'], allow_failed_imports=False)
# Changed paths; a trailing '.' means "this key and everything under it".
EXTRA_DELTA = {
    'retinanet_r50_ba2m_softmax_1x_voc0712.py':
    ('model.bbox_head.loss_cls.', 'model.train_cfg.sampler.'),
    'faster_rcnn_r50_ohem_1x_voc0712.py': ('model.train_cfg.rcnn.sampler.type', ),
}
# CIFAR-10 from its JPEG archive (CIFAR10Decoded on the fixed splits, one GPU x 128 images).
CIFAR10_JPEG_DELTA = ('custom_imports.', 'data_root', 'archive', 'train_pipeline', 'test_pipeline',
                      'train_dataloader.', 'val_dataloader.', 'test_dataloader.')
CIFAR10_CPU_DELTA = CIFAR10_JPEG_DELTA + (
    'model.backbone.stem_channels', 'model.backbone.base_channels', 'model.head.in_channels',
    'param_scheduler', 'param_scheduler.', 'train_cfg.max_epochs', 'train_cfg.val_interval',
    'default_hooks.checkpoint.interval', 'default_hooks.logger.interval')
# the testbed: the CPU budget's widths, plus its levers (docs/cifar10.md)
CIFAR10_TESTBED_DELTA = tuple(
    d for d in CIFAR10_CPU_DELTA
    if d not in ('train_cfg.val_interval', 'default_hooks.checkpoint.interval')) + (
        'model.head.loss.', 'optim_wrapper.optimizer.', 'max_epochs', 'custom_hooks')
EXTRA_DELTA.update({
    'resnet18_1xb128_cifar10.py':
    CIFAR10_JPEG_DELTA,
    'resnet18_ba2m_1xb128_cifar10.py':
    CIFAR10_JPEG_DELTA,
    'resnet18_ba2m_1xb128_cifar10_official.py':
    CIFAR10_JPEG_DELTA,
    'resnet18_cpu_cifar10.py':
    CIFAR10_CPU_DELTA,
    'resnet18_ba2m_cpu_cifar10.py':
    CIFAR10_CPU_DELTA,
    'resnet18_cifar10_testbed.py':
    CIFAR10_TESTBED_DELTA,
    'resnet18_ba2m_cifar10_testbed.py':
    CIFAR10_TESTBED_DELTA + ('ba2m_strength', ),
    'resnet18_se_cifar10_testbed.py':
    CIFAR10_TESTBED_DELTA + BA2M_DELTA + ('model.backbone.ba2m_position', ),
    'resnet18_se_identity_cifar10_testbed.py':
    CIFAR10_TESTBED_DELTA + BA2M_DELTA + ('model.backbone.ba2m_position', ),
    'resnet18_random_cifar10_testbed.py':
    CIFAR10_TESTBED_DELTA + BA2M_DELTA + ('ba2m_strength', ),
})
DEPTH = {
    name:
    101 if any(k in name for k in ('r101', 'x101', 'resnet101',
                                   'resnext101')) else 18 if 'resnet18' in name else 50
    for name in UPSTREAM if 'mobilenet' not in name
}


@functools.lru_cache(maxsize=None)
def _load(name, import_custom_modules):
    return Config.fromfile(str(CONFIG_DIR / name), import_custom_modules=import_custom_modules)


def load(name, import_custom_modules=False):
    """Load ``configs/<name>`` (a private copy); loading alone does not need ba2m_mm."""
    return copy.deepcopy(_load(name, import_custom_modules))


def load_upstream(name, tmp_path):
    """Load e.g. 'mmdet::x/y.py' the way our configs inherit it (a one-line child)."""
    child = tmp_path / 'upstream.py'
    child.write_text(f'_base_ = {name!r}\n')
    return Config.fromfile(str(child))


def flatten(tree, prefix=''):
    """Nested dict -> {'a.b.c': leaf}; lists (e.g. pipelines) are leaves."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def changed_paths(cfg, upstream):
    ours, theirs = flatten(cfg.to_dict()), flatten(upstream.to_dict())
    missing = object()
    return {
        k
        for k in ours.keys() | theirs.keys() if ours.get(k, missing) != theirs.get(k, missing)
    }


def covered(path, allowed):
    return any(path == a or (a.endswith('.') and path.startswith(a)) for a in allowed)


def is_ba2m(cfg):
    return cfg.model.backbone.type.startswith('BA2M')


# ----------------------------------------------------------------------------------------
# Loading and deltas (no ba2m_mm import needed)
# ----------------------------------------------------------------------------------------


def test_every_config_is_registered_here():
    assert set(CONFIGS) == set(UPSTREAM), (
        'configs/ and tests/test_configs.py UPSTREAM disagree; add new configs with their '
        f'upstream config. Only in configs/: {sorted(set(CONFIGS) - set(UPSTREAM))}; only in '
        f'UPSTREAM: {sorted(set(UPSTREAM) - set(CONFIGS))}')


@pytest.mark.parametrize('name', CONFIGS)
def test_config_states_only_its_deltas(name, tmp_path):
    cfg = load(name)
    upstream_name = UPSTREAM[name]
    allowed = (BA2M_DELTA if 'ba2m' in name else ()) + EXTRA_DELTA.get(name, ())
    if 'ba2m' in name and UPSTREAM[name].startswith('mmdet::'):
        allowed += (f'{DET_BASE_VAR}.', )
    upstream = load_upstream(upstream_name, tmp_path)
    changed = changed_paths(cfg, upstream)
    unexpected = sorted(p for p in changed if not covered(p, allowed))
    assert not unexpected, f'{name} changes {unexpected} relative to {upstream_name}'
    unused = [a for a in allowed if not any(covered(p, (a, )) for p in changed)]
    assert not unused, f'{name} does not change {unused} relative to {upstream_name}'
    assert cfg.default_scope == upstream.default_scope
    upstream_type = upstream.model.backbone.type
    added = 'ba2m' in name or name in CONTROL_CONFIGS
    expected_type = 'BA2M' + upstream_type if added else upstream_type
    assert cfg.model.backbone.type == expected_type
    if name in DEPTH:
        assert cfg.model.backbone.depth == DEPTH[name]
    else:
        assert 'depth' not in cfg.model.backbone
    if 'cifar10.py' in name or 'cifar10_' in name:  # CIFAR-10 (not CIFAR-100) configs
        assert cfg.custom_imports == CIFAR10_IMPORTS
    elif is_ba2m(cfg):
        assert cfg.custom_imports == CUSTOM_IMPORTS
    else:
        assert 'custom_imports' not in cfg


def base_files(name):
    """The ``_base_`` of ``configs/<name>`` as written (a str or a list of them)."""
    tree = ast.parse((CONFIG_DIR / name).read_text())
    assigned = {
        target.id: node.value
        for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
        if isinstance(target, ast.Name)
    }
    return ast.literal_eval(assigned['_base_'])


def test_detection_configs_inherit_the_ba2m_backbone_options_from_one_base():
    """The BA2M options of the detection configs are written once, in DET_BASE: each BA2M
    detection config inherits it (beside its mmdet config) or a config that does, and its
    merged backbone holds exactly those options."""
    base = Config.fromfile(str(CONFIG_DIR / DET_BASE))
    assert list(base.keys()) == [DET_BASE_VAR]  # no `model`: it sits beside mmdet's
    options = base[DET_BASE_VAR]
    assert options.ba2m_stages == (False, True, True, True)
    assert options.ba2m_cfg == DET_BA2M_CFG
    det = [n for n in CONFIGS if load(n).default_scope == 'mmdet' and is_ba2m(load(n))]
    assert len(det) == 9
    direct = []
    for name in det:
        bases = base_files(name)
        text = (CONFIG_DIR / name).read_text()
        assert 'ba2m_stages' not in text and 'ba2m_cfg' not in text, f'{name} pastes options'
        if isinstance(bases, list):  # [mmdet::<upstream>, DET_BASE]
            assert bases == [UPSTREAM[name], f'./{DET_BASE}'], name
            assert f'**_base_.{DET_BASE_VAR}' in text, name
            direct.append(name)
        else:  # derived from one of ours, as upstream derives its R-101 / variant configs
            assert bases.startswith('./') and 'ba2m' in bases, name
        cfg = load(name)
        backbone = cfg.model.backbone
        assert cfg[DET_BASE_VAR] == options, name
        assert backbone.ba2m_stages == options.ba2m_stages, name
        assert backbone.ba2m_cfg == options.ba2m_cfg, name
        # A BA2M on a frozen stage is the identity: stage 1 is frozen and has none.
        assert backbone.frozen_stages == 1 and not backbone.ba2m_stages[0], name
        assert cfg.train_dataloader.batch_size == 2, name
    assert len(direct) == 6


@pytest.mark.parametrize('name', [
    'resnet50_ba2m_8xb32_in1k.py', 'resnet101_ba2m_8xb32_in1k.py',
    'resnet50_ba2m_8xb16_cifar100.py', 'resnext50_ba2m_8xb32_in1k.py',
    'resnext101_ba2m_8xb32_in1k.py'
])
def test_classification_configs_put_ba2m_after_all_four_stages(name):
    backbone = load(name).model.backbone
    assert backbone.ba2m_stages == (True, True, True, True)
    assert backbone.ba2m_cfg == CLS_BA2M_CFG


def test_mobilenet_v2_config_states_the_thin_stage_default():
    """BA2M after the stages of at least 32 channels: what BA2MMobileNetV2 selects for
    ba2m_stages=None, written out in the config."""
    cfg = load('mobilenet_v2_ba2m_8xb32_in1k.py', import_custom_modules=True)
    backbone = cfg.model.backbone
    assert backbone.ba2m_stages == (False, False, True, True, True, True, True)
    assert backbone.ba2m_cfg == CLS_BA2M_CFG
    from mmpretrain.registry import MODELS
    default = MODELS.build(dict(type=backbone.type, widen_factor=backbone.widen_factor))
    assert default.ba2m_stages == backbone.ba2m_stages


def test_coco_schedules_follow_the_paper():
    # Suppl. G: 24 epochs, SGD momentum 0.9, weight decay 1e-4, lr x0.1 at 16 and 22.
    for name in [n for n in CONFIGS if n.endswith('_2x_coco.py')]:
        cfg = load(name)
        assert cfg.train_cfg.max_epochs == 24, name
        optimizer = cfg.optim_wrapper.optimizer
        assert (optimizer.type, optimizer.momentum, optimizer.weight_decay) == ('SGD', 0.9, 1e-4)
        steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
        assert len(steps) == 1 and steps[0].milestones == [16, 22] and steps[0].gamma == 0.1
        # lr 0.02 (two-stage) or 0.01 (RetinaNet) for 16 images, as upstream: see the configs.
        assert cfg.auto_scale_lr.base_batch_size == 16, name


def test_voc_configs_train_on_07_12_and_test_on_07():
    for name in [n for n in CONFIGS if n.endswith('_voc0712.py')]:
        cfg = load(name)
        trainsets = cfg.train_dataloader.dataset.dataset.datasets
        assert sorted(d.data_prefix.sub_data_root for d in trainsets) == ['VOC2007/', 'VOC2012/']
        assert all(d.ann_file.endswith('ImageSets/Main/trainval.txt') for d in trainsets)
        testset = cfg.test_dataloader.dataset
        assert testset.data_prefix.sub_data_root == 'VOC2007/'
        assert testset.ann_file.endswith('ImageSets/Main/test.txt')
        assert cfg.test_evaluator.type == 'VOCMetric'


def test_softmax_retinanet_predicts_background_and_samples_anchors():
    cfg = load('retinanet_r50_ba2m_softmax_1x_voc0712.py')
    assert cfg.model.bbox_head.loss_cls == dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
    assert cfg.model.train_cfg.sampler == dict(
        type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False)
    focal = load('retinanet_r50_focal_1x_voc0712.py').model
    assert focal.bbox_head.loss_cls.type == 'FocalLoss'
    assert focal.train_cfg.sampler.type == 'PseudoSampler'


# ----------------------------------------------------------------------------------------
# Build, one training step, one prediction
# ----------------------------------------------------------------------------------------


def build(cfg, backbone_init_cfg=None):
    """Build and initialise cfg.model in its own default scope (no download by default)."""
    import ba2m_mm  # noqa: F401  registers BA2MResNet (what custom_imports does)
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = backbone_init_cfg
    # mmpretrain configs keep the data preprocessor at top level; the Runner merges it.
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def ba2m_modules(model):
    from ba2m_mm.models.layers import BA2M
    return [m for m in model.modules() if isinstance(m, BA2M)]


def detection_inputs(cfg, size=64):
    from mmdet.testing import demo_mm_inputs
    head = cfg.model.get('roi_head', {}).get('bbox_head') or cfg.model.bbox_head
    return demo_mm_inputs(
        batch_size=2,
        image_shapes=(3, size, size),
        num_items=[3, 2],
        num_classes=head.num_classes,
        with_mask='mask_head' in cfg.model.get('roi_head', {}))


def classification_inputs(cfg, size):
    from mmpretrain.structures import DataSample
    num_classes = cfg.model.head.num_classes
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, size, size), generator=generator) for _ in range(2)]
    samples = [DataSample().set_gt_label(label) for label in (3, num_classes - 1)]
    return dict(inputs=inputs, data_samples=samples)


def train_step_and_predict(model, data):
    """One forward/backward in train mode, then predict in eval mode."""
    model.train()
    batch = model.data_preprocessor(data, True)
    losses = model(**batch, mode='loss')
    loss, log_vars = model.parse_losses(losses)
    assert torch.isfinite(loss), log_vars
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(torch.isfinite(g).all() for g in grads if g is not None)
    model.eval()
    with torch.no_grad():
        return losses, model.test_step(data)


def check_ba2m_ran(cfg, model):
    """Active BA2Ms weighted the 2 samples (mean weight 1); frozen stages have none."""
    modules = ba2m_modules(model)
    if not is_ba2m(cfg):
        assert modules == []
        return
    assert len(modules) == sum(cfg.model.backbone.ba2m_stages)
    for m in modules:
        assert m.last_weights is not None and m.last_weights.shape == (2, ), m.name
        assert torch.allclose(m.last_weights.mean(), torch.tensor(1.0)), m.name


@pytest.mark.parametrize('name', [n for n in CONFIGS if 'coco' in n or 'voc' in n])
def test_detection_config_trains_and_predicts(name):
    cfg = load(name, import_custom_modules=True)
    # Keep every box at test time, so that predictions of an untrained model are not empty.
    test_cfg = cfg.model.test_cfg.get('rcnn', cfg.model.test_cfg)
    test_cfg.score_thr = 0.0
    model = build(cfg)
    num_classes = detection_num_classes(cfg)
    losses, results = train_step_and_predict(model, detection_inputs(cfg))
    check_ba2m_ran(cfg, model)
    if 'loss_cls' in cfg.model.get('bbox_head', {}):  # single-stage: check the cls head
        use_sigmoid = cfg.model.bbox_head.loss_cls.use_sigmoid
        assert model.bbox_head.cls_out_channels == num_classes + (0 if use_sigmoid else 1)
        if not use_sigmoid:
            # Equal initial logits: softmax CE = ln(C + 1) per anchor, averaged over the
            # sampled anchors (not summed over all anchors and divided by the positives).
            initial = sum(losses['loss_cls']).item()
            assert abs(initial - math.log(num_classes + 1)) < 0.05, initial
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        assert len(pred.labels) > 0
        assert pred.bboxes.shape == (len(pred.labels), 4)
        assert torch.isfinite(pred.bboxes).all() and torch.isfinite(pred.scores).all()
        assert len(pred.scores) == len(pred.labels)
        assert 0 <= pred.labels.min() and pred.labels.max() < num_classes  # no background
        if 'mask_head' in cfg.model.get('roi_head', {}):
            assert pred.masks.shape == (len(pred.labels), 64, 64)


def detection_num_classes(cfg):
    head = cfg.model.get('roi_head', {}).get('bbox_head') or cfg.model.bbox_head
    return head.num_classes


@pytest.mark.parametrize('name,size', [('resnet50_ba2m_8xb32_in1k.py', 64),
                                       ('resnet101_ba2m_8xb32_in1k.py', 64),
                                       ('resnet50_ba2m_8xb16_cifar100.py', 32),
                                       ('resnext50_ba2m_8xb32_in1k.py', 64),
                                       ('resnext101_ba2m_8xb32_in1k.py', 64),
                                       ('mobilenet_v2_ba2m_8xb32_in1k.py', 64)])
def test_classification_config_trains_and_predicts(name, size):
    cfg = load(name, import_custom_modules=True)
    model = build(cfg)
    _, results = train_step_and_predict(model, classification_inputs(cfg, size))
    check_ba2m_ran(cfg, model)
    num_classes = cfg.model.head.num_classes
    assert len(results) == 2
    for result in results:
        assert result.pred_score.shape == (num_classes, )
        assert torch.allclose(result.pred_score.sum(), torch.tensor(1.0), atol=1e-5)


def test_detector_starts_from_a_ba2m_imagenet_checkpoint(tmp_path):
    """docs/model_zoo.md recipe: mmpretrain BA2M-ResNet-50 -> detection backbone."""
    classifier = build(load('resnet50_ba2m_8xb32_in1k.py', import_custom_modules=True))
    checkpoint = tmp_path / 'ba2m_r50_in1k.pth'
    torch.save(dict(state_dict=classifier.state_dict()), checkpoint)
    cfg = load('faster_rcnn_r50_ba2m_2x_coco.py', import_custom_modules=True)
    model = build(cfg, dict(type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.'))
    source = {
        k[len('backbone.'):]: v
        for k, v in classifier.state_dict().items() if k.startswith('backbone.')
    }
    target = model.backbone.state_dict()
    # Every detection-backbone tensor comes from the checkpoint; only the stage-1 BA2M of
    # the classifier (frozen, hence absent, in detection) is left over.
    assert set(target) <= set(source)
    assert {k.split('.')[0] for k in set(source) - set(target)} == {'ba2m1'}
    for key, value in target.items():
        assert torch.equal(value, source[key]), key
