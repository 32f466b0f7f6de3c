"""The models a benchmark compares, built the same way for every method.

``plain`` (ResNet-50); ``ba2m-exact``, ``ba2m-sampled``, ``ba2m-auto``
(BA2MResNet with that ``gsa_mode``); ``gcnet`` (mmcv ContextBlock, r16, stages
c3-c5, after_conv3, as mmdet's gcnet configs) and ``attn1111`` (mmdet
GeneralizedAttention as in
``empirical_attention/faster-rcnn_r50-attn1111_fpn_1x_coco.py``), both as
in-block plugins of mmdet's ResNet. Settings: ``cls`` (mmpretrain
ImageClassifier ResNet-50), ``det`` (mmdet Faster R-CNN R-50-FPN),
``det-backbone`` (the backbone of our detection configs alone, built with
mmpretrain so it needs neither mmdet nor mmcv's compiled ops) and ``testbed``
(the CIFAR-10 testbed's classifiers, ``configs/resnet18_cifar10_testbed.py``
and its BA2M twin: ResNet-18-CIFAR widths 16-128; plain and BA2M only).
"""
import copy
import os.path as osp

import torch
import torch.nn as nn

from .paths import CONFIG_DIR, REPO, mim_config

MODELS_ALL = ('plain', 'ba2m-exact', 'ba2m-sampled', 'ba2m-auto', 'gcnet', 'attn1111')
MMDET_PLUGIN_MODELS = ('gcnet', 'attn1111')  # mmdet's ResNet with mmcv plugins
# The testbed configs of plain and BA2M (the twins differ in the backbone only).
TESTBED_CONFIGS = dict(plain='resnet18_cifar10_testbed.py', ba2m='resnet18_ba2m_cifar10_testbed.py')

# The plugins of the compared attention methods, as in mmdet's configs.
GCNET_PLUGIN = dict(
    cfg=dict(type='ContextBlock', ratio=1. / 16),
    stages=(False, True, True, True),
    position='after_conv3')

ATTN1111_PLUGIN = dict(
    cfg=dict(
        type='GeneralizedAttention',
        spatial_range=-1,
        num_heads=8,
        attention_type='1111',
        kv_stride=2),
    stages=(False, False, True, True),
    position='after_conv2')


def cls_model_cfg(name: str) -> dict:
    """ImageClassifier ResNet-50 (mmpretrain) with the backbone of ``name``."""
    model = mim_config('mmpretrain', '_base_/models/resnet50.py').model.to_dict()
    if name.startswith('ba2m-'):
        model['backbone'].update(
            type='BA2MResNet',
            ba2m_stages=(True, True, True, True),
            ba2m_cfg=dict(reduction=32, gsa_mode=name[len('ba2m-'):]))
    elif name in ('gcnet', 'attn1111'):
        # mmpretrain's ResNet has no plugins: use mmdet's ResNet-50 (same network).
        model['backbone'] = dict(
            type='mmdet.ResNet',
            depth=50,
            num_stages=4,
            out_indices=(3, ),
            style='pytorch',
            init_cfg=None,
            plugins=[GCNET_PLUGIN if name == 'gcnet' else ATTN1111_PLUGIN])
    return model


def det_model_cfg(name: str):
    """Faster R-CNN R-50-FPN (mmdet) with the backbone of ``name`` (a ConfigDict:
    mmdet reads ``train_cfg.rpn`` as attributes)."""
    from mmengine.config import ConfigDict
    path = ('empirical_attention/faster-rcnn_r50-attn1111_fpn_1x_coco.py'
            if name == 'attn1111' else 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    model = mim_config('mmdet', path).model.to_dict()
    if name == 'gcnet':
        model['backbone']['plugins'] = [copy.deepcopy(GCNET_PLUGIN)]
    elif name.startswith('ba2m-'):
        ours = osp.join(REPO, 'configs', 'faster_rcnn_r50_ba2m_2x_coco.py')
        if not osp.exists(ours):
            ours = osp.join(REPO, 'configs', 'mask_rcnn_r50_ba2m_2x_coco.py')
        from mmengine.config import Config
        backbone = Config.fromfile(ours).model.backbone.to_dict()
        backbone['ba2m_cfg'] = dict(backbone.get('ba2m_cfg', {}), gsa_mode=name[len('ba2m-'):])
        model['backbone'].update(backbone)
    model['backbone']['init_cfg'] = None  # no download
    return ConfigDict(model)


def det_backbone_cfg(name: str) -> dict:
    """The backbone of our detection configs (``faster_rcnn_r50_ba2m_2x_coco.py``:
    BA2M after stages 2-4, ``frozen_stages=1``, ``norm_eval=True``) as an
    mmpretrain ResNet-50 / BA2MResNet, so that it builds without mmdet and
    mmcv's ops. ``sync`` is left out: one process, where it changes nothing."""
    if name not in ('plain', ) and not name.startswith('ba2m-'):
        raise ValueError(f'det-backbone compares plain and BA2M backbones only, got model '
                         f'{name!r}; use --settings det for {name}')
    cfg = dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=None)
    if name.startswith('ba2m-'):
        cfg.update(
            type='BA2MResNet',
            ba2m_stages=(False, True, True, True),
            ba2m_cfg=dict(reduction=32, normalize='scaled_softmax', gsa_mode=name[len('ba2m-'):]))
    return cfg


def testbed_model_cfg(name: str) -> dict:
    """The model of the CIFAR-10 testbed config of ``name`` (``plain``:
    ``resnet18_cifar10_testbed.py``; ``ba2m-<gsa_mode>``: its BA2M twin
    ``resnet18_ba2m_cifar10_testbed.py``, that ``gsa_mode``), with the
    config's data preprocessor."""
    from mmengine.config import Config
    if name != 'plain' and not name.startswith('ba2m-'):
        raise ValueError(f'testbed compares plain and BA2M only (the testbed configs), got '
                         f'model {name!r}')
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, TESTBED_CONFIGS['plain' if name == 'plain' else 'ba2m']))
    model = cfg.model.to_dict()
    model['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    if name.startswith('ba2m-'):
        model['backbone'].setdefault('ba2m_cfg', {})['gsa_mode'] = name[len('ba2m-'):]
    return model


def build(setting: str, name: str) -> nn.Module:
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    import ba2m_mm  # noqa: F401  registers BA2MResNet
    if setting == 'cls':
        from mmpretrain.registry import MODELS
        scope, cfg = 'mmpretrain', cls_model_cfg(name)
    elif setting == 'det-backbone':
        from mmpretrain.registry import MODELS
        scope, cfg = 'mmpretrain', det_backbone_cfg(name)
    elif setting == 'testbed':
        from mmpretrain.registry import MODELS
        scope, cfg = 'mmpretrain', testbed_model_cfg(name)
    else:
        from mmdet.registry import MODELS
        scope, cfg = 'mmdet', det_model_cfg(name)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg)
    return revert_sync_batchnorm(model)


def make_batch(setting: str, batch: int, shape, seed: int = 0):
    """A batch as the data pipeline would give it (uint8 images + data samples,
    labels of 1,000 classes for ``cls``, 10 for ``testbed``); for
    ``det-backbone`` a normalised (batch, 3, H, W) float tensor."""
    g = torch.Generator().manual_seed(seed)
    h, w = shape
    if setting == 'det-backbone':
        return torch.randn(batch, 3, h, w, generator=g)
    inputs = [
        torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8) for _ in range(batch)
    ]
    if setting in ('cls', 'testbed'):
        from mmpretrain.structures import DataSample
        classes = 10 if setting == 'testbed' else 1000
        samples = [DataSample().set_gt_label(i % classes) for i in range(batch)]
    else:
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
        samples = []
        for i in range(batch):
            xy = torch.rand(6, 2, generator=g) * torch.tensor([w * 0.7, h * 0.7])
            wh = torch.rand(6, 2, generator=g) * torch.tensor([w * 0.3, h * 0.3]) + 16
            sample = DetDataSample(
                metainfo=dict(
                    img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0), img_id=i))
            sample.gt_instances = InstanceData(
                bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 80, (6, ), generator=g))
            samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
