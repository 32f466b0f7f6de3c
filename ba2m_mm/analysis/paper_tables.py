"""Parameters and FLOPs of our models beside the paper's tables (V, X, XII)."""
import copy
import os.path as osp
import time
from functools import partial
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.config import Config

from .flops import CLS_SHAPE, DET_SHAPE, build_model, complexity
from .paths import CONFIG_DIR, REPO, mim_config

# Paper numbers (Params M, FLOPs G, table): ImageNet-1k at 224x224 (Tables V, XII) and
# CIFAR-100 at 32x32 (Table X).
PAPER = {
    'ResNet-18': (11.69, 1.81, 'XII'),
    'ResNet-18 + BA2M': (12.28, 1.92, 'XII'),
    'ResNet-34': (21.80, 3.66, 'XII'),
    'ResNet-34 + BA2M': (21.92, 3.77, 'XII'),
    'ResNet-50': (25.56, 3.86, 'V'),
    'ResNet-50 + BA2M': (26.21, 4.32, 'V'),
    'ResNet-101': (44.55, 7.57, 'V'),
    'ResNet-101 + BA2M': (45.87, 8.05, 'V'),
    'ResNeXt-50': (25.03, 3.77, 'XII'),
    'ResNeXt-50 + BA2M': (27.25, 4.47, 'XII'),
    'ResNeXt-101': (44.18, 7.51, 'XII'),
    'ResNeXt-101 + BA2M': (45.51, 8.23, 'XII'),
    'DenseNet-100': (0.76, 0.29, 'X'),
    'DenseNet-100 + BA2M': (0.78, 0.30, 'X'),
    'ShuffleNetV2': (1.3, 0.05, 'X'),
    'ShuffleNetV2 + BA2M': (1.92, 0.06, 'X'),
    'MobileNetV2': (2.26, 0.07, 'X'),
    'MobileNetV2 + BA2M': (2.31, 0.07, 'X'),
    'EfficientNet-B0': (2.80, 0.03, 'X'),
    'EfficientNet-B0 + BA2M': (4.18, 0.03, 'X'),
}

LIGHT_SHAPE = (32, 32)  # CIFAR-100 (Table X)

# Table X backbones, as mmpretrain builds them (ImageNet stems: see format_paper_table).
LIGHT_BACKBONES = {
    # DenseNet-BC-100 with growth rate 12, the CIFAR DenseNet-100 of the paper's [15].
    'DenseNet-100':
    dict(type='DenseNet', arch=dict(growth_rate=12, depths=[16, 16, 16], init_channels=24)),
    'ShuffleNetV2':
    dict(type='ShuffleNetV2', widen_factor=1.0),
    'MobileNetV2':
    dict(type='MobileNetV2', widen_factor=1.0),
    'EfficientNet-B0':
    dict(type='EfficientNet', arch='b0'),
}


def _imagenet_classifier_cfg(base: str, ba2m_type: str, ba2m: bool) -> Config:
    """mmpretrain ImageClassifier from ``_base_/models/<base>.py`` (1000 classes),
    optionally with backbone ``ba2m_type`` and BA2M after all four stages (R = 32)."""
    cfg = mim_config('mmpretrain', f'_base_/models/{base}.py')
    cfg.default_scope = 'mmpretrain'
    if ba2m:
        cfg.model.backbone.type = ba2m_type
        cfg.model.backbone.ba2m_stages = (True, True, True, True)
        cfg.model.backbone.ba2m_cfg = dict(reduction=32)
    return cfg


def classifier_cfg(depth: int, ba2m: bool) -> Config:
    """ResNet-``depth``, optionally with BA2M (see :func:`_imagenet_classifier_cfg`)."""
    return _imagenet_classifier_cfg(f'resnet{depth}', 'BA2MResNet', ba2m)


def resnext_classifier_cfg(depth: int, ba2m: bool) -> Config:
    """ResNeXt-``depth`` 32x4d, optionally with BA2M, as
    configs/resnext*_ba2m_8xb32_in1k.py (see :func:`_imagenet_classifier_cfg`)."""
    return _imagenet_classifier_cfg(f'resnext{depth}_32x4d', 'BA2MResNeXt', ba2m)


def light_classifier_cfg(name: str, ba2m: bool) -> Config:
    """mmpretrain ImageClassifier for CIFAR-100 (100 classes) on a Table X backbone,
    optionally its ``BA2M*`` variant with reduction 32 and ``ba2m_stages=None`` (every
    stage at least 32 channels wide, the backbones' thin-stage policy)."""
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

    import ba2m_mm  # noqa: F401  registers the BA2M backbones
    backbone = copy.deepcopy(LIGHT_BACKBONES[name])
    plain = MMPRETRAIN_MODELS.build(copy.deepcopy(backbone))
    plain.eval()  # some upstream train() return None
    with torch.no_grad():
        channels = plain(torch.zeros(1, 3, *LIGHT_SHAPE))[-1].shape[1]  # last stage width
    if ba2m:
        backbone.update(type='BA2M' + backbone['type'], ba2m_cfg=dict(reduction=32))
    model = dict(
        type='ImageClassifier',
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=100,
            in_channels=channels,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
    return Config(dict(model=model, default_scope='mmpretrain'))


DET_CONFIGS = {
    # name: (upstream mmdet config, our BA2M config in configs/)
    'Faster R-CNN R-50-FPN':
    ('faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py', 'faster_rcnn_r50_ba2m_2x_coco.py'),
    'Faster R-CNN R-101-FPN':
    ('faster_rcnn/faster-rcnn_r101_fpn_2x_coco.py', 'faster_rcnn_r101_ba2m_2x_coco.py'),
    'Mask R-CNN R-50-FPN':
    ('mask_rcnn/mask-rcnn_r50_fpn_2x_coco.py', 'mask_rcnn_r50_ba2m_2x_coco.py'),
    'Mask R-CNN R-101-FPN':
    ('mask_rcnn/mask-rcnn_r101_fpn_2x_coco.py', 'mask_rcnn_r101_ba2m_2x_coco.py'),
}


def detector_cfg(name: str, ba2m: bool) -> Tuple[Config, str]:
    """Upstream detector config, or our BA2M config from ``configs/``.

    When the BA2M config is missing from ``configs/``, the upstream config
    gets the backbone of ``configs/mask_rcnn_r50_ba2m_2x_coco.py``.
    """
    upstream, ours = DET_CONFIGS[name]
    if not ba2m:
        return mim_config('mmdet', upstream), f'mmdet::{upstream}'
    path = osp.join(CONFIG_DIR, ours)
    if osp.exists(path):
        return Config.fromfile(path), osp.relpath(path, REPO)
    cfg = mim_config('mmdet', upstream)
    reference = Config.fromfile(osp.join(CONFIG_DIR, 'mask_rcnn_r50_ba2m_2x_coco.py'))
    depth = cfg.model.backbone.depth
    cfg.model.backbone.update(copy.deepcopy(reference.model.backbone.to_dict()))
    cfg.model.backbone.depth = depth
    cfg.model.backbone.pop('init_cfg', None)
    return cfg, f'mmdet::{upstream} + BA2M backbone of configs/mask_rcnn_r50_ba2m_2x_coco.py'


def paper_table(which: Sequence[str] = ('cls', 'light', 'det'), train_batch: int = 2) -> List[Dict]:
    """Compute the rows of the paper comparison; prints progress.

    ``which``: ``'cls'`` ImageNet ResNet-18/34/50/101 and ResNeXt-50/101 (224x224,
    Tables V, XII); ``'light'`` CIFAR-100 DenseNet-100, ShuffleNetV2, MobileNetV2,
    EfficientNet-B0 (32x32, Table X); ``'det'`` Faster/Mask R-CNN R-50/101 (1280x800).
    """
    cls_source = 'mmpretrain::_base_/models (backbone swapped for BA2M)'
    jobs = []
    if 'cls' in which:
        for depth in (18, 34, 50, 101):
            for ba2m in (False, True):
                name = f'ResNet-{depth}' + (' + BA2M' if ba2m else '')
                jobs.append((name, partial(classifier_cfg, depth, ba2m), CLS_SHAPE, cls_source))
        for depth in (50, 101):
            for ba2m in (False, True):
                name = f'ResNeXt-{depth}' + (' + BA2M' if ba2m else '')
                jobs.append((name, partial(resnext_classifier_cfg, depth,
                                           ba2m), CLS_SHAPE, cls_source))
    if 'light' in which:
        for net in LIGHT_BACKBONES:
            for ba2m in (False, True):
                name = net + (' + BA2M' if ba2m else '')
                jobs.append((name, partial(light_classifier_cfg, net,
                                           ba2m), LIGHT_SHAPE, 'mmpretrain backbone, 100 classes'))
    if 'det' in which:
        for det in DET_CONFIGS:
            for ba2m in (False, True):
                name = det + (' + BA2M' if ba2m else '')
                jobs.append((name, partial(detector_cfg, det, ba2m), DET_SHAPE, None))
    rows = []
    for i, (name, make_cfg, shape, source) in enumerate(jobs, 1):
        start = time.time()
        if source is None:
            cfg, source = make_cfg()
        else:
            cfg = make_cfg()
        model = build_model(cfg)
        result = complexity(model, shape, train_batch)
        result.update(name=name, source=source)
        rows.append(result)
        print(
            f'[{i}/{len(jobs)}] {name} at {shape[1]}x{shape[0]}: {result["params"] / 1e6:.2f} M '
            f'params, {result["eval"]["flops"] / 1e9:.2f} G deployed, '
            f'{result["train"]["flops"] / 1e9:.2f} G training/img ({time.time() - start:.0f} s)',
            flush=True)
        del model
    return rows


def _giga(flops: float) -> str:
    """GFLOPs with 2 decimals, 3 below 0.1 G (the 32x32 rows)."""
    return f'{flops / 1e9:.2f}' if flops >= 1e8 else f'{flops / 1e9:.3f}'


def format_paper_table(rows: List[Dict]) -> str:
    header = (f'{"Model":<32}{"Params M":>9}{"paper":>8}{"BA2M M":>8}{"paper +M":>9}'
              f'{"GFLOPs":>8}{"train":>8}{"BA2M G":>8}{"paper":>8}  table')
    lines = [header, '-' * len(header)]
    for row in rows:
        paper = PAPER.get(row['name'])
        # The paper's BA2M overhead: its "+ BA2M" row minus its baseline row.
        base = PAPER.get(row['name'][:-len(' + BA2M')]) if row['name'].endswith(' + BA2M') \
            else None
        overhead = f'{paper[0] - base[0]:+.2f}' if paper and base else '-'
        h, w = row['shape']
        lines.append(
            f'{row["name"]:<32}{row["params"] / 1e6:>9.2f}'
            f'{(f"{paper[0]:.2f}" if paper else "-"):>8}{row["ba2m_params"] / 1e6:>8.3f}'
            f'{overhead:>9}{_giga(row["eval"]["flops"]):>8}{_giga(row["train"]["flops"]):>8}'
            f'{row["train"]["ba2m_flops"] / 1e9:>8.3f}{(f"{paper[1]:.2f}" if paper else "-"):>8}'
            f'  {(paper[2] if paper else f"({w}x{h}, no paper FLOPs)")}')
    lines += [
        '',
        'GFLOPs = deployed (eval, BA2M is the identity); train = train-mode forward per image '
        '(batch 2); BA2M G = the BA2M share of the training FLOPs. 1 FLOP = 1 multiply-add.',
        'BA2M M = parameters inside BA2M modules (ours); paper +M = the paper\'s BA2M row minus '
        'its baseline row.',
        'The paper reports one FLOPs number per model and does not say whether it counts '
        'the training-time BA2M; its baselines come from the SE/CBAM papers (ResNet-50 3.86 G),',
        'while mmengine counts 4.1 G for the same network (it also counts BN and the fc).',
        'BA2M placement: all four stages for ResNet/ResNeXt; for the Table X nets the '
        'BA2M* default (every stage >= 32 channels; MobileNetV2 layer3-7, EfficientNet-B0 '
        'stages 3-5).',
        'Table X rows are mmpretrain\'s ImageNet architectures with a 100-class head at 32x32: '
        'widths (hence parameters) are the CIFAR nets\', but the stems downsample',
        'more than the paper\'s CIFAR variants (not described), so their FLOPs are not '
        'comparable with the paper\'s.',
        'Mask R-CNN: mmdet\'s tensor-mode forward runs the mask head on the first 100 RoIs of '
        'the whole batch, so its per-image train column is lower than the deployed one.',
    ]
    return '\n'.join(lines)
