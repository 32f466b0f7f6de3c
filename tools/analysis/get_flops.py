"""Parameters and FLOPs of a model config, deployed and in training.

BA2M is the identity in eval mode, so a deployed BA2M model costs exactly what
the plain network costs. In training it weights every sample of the batch,
and its three attention branches cost extra FLOPs. This tool reports both,
counted by ``mmengine.analysis.FlopAnalyzer`` (one multiply-add = one FLOP,
the convention of the paper's tables):

- deployed: ``model.eval()``, one image;
- training: ``model.train()``, a batch of ``--train-batch`` images (BA2M needs
  at least 2), divided per image. BatchNorm layers in training mode count a
  few more FLOPs than in eval mode, for the plain network too, so compare
  training FLOPs with training FLOPs.

Examples::

    python tools/analysis/get_flops.py configs/mask_rcnn_r50_ba2m_2x_coco.py
    python tools/analysis/get_flops.py CONFIG --shape 224 224
    python tools/analysis/get_flops.py --paper-table
    python tools/analysis/get_flops.py --paper-table --paper-settings cls light
"""
import argparse
import copy
import os.path as osp
import sys
import time
import warnings
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope
from mmengine.utils import get_installed_path

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
# configs/ of the repository; configs/ba2m/ when this file runs from an installed
# ba2m_mm/.mim/tools/analysis (setup.py installs configs/ there).
CONFIG_DIR = osp.join(REPO, 'configs')
if not osp.exists(osp.join(CONFIG_DIR, 'mask_rcnn_r50_ba2m_2x_coco.py')):
    CONFIG_DIR = osp.join(REPO, 'configs', 'ba2m')
DET_SHAPE = (800, 1280)  # (H, W): mmdet's usual "1280x800" FLOPs input
CLS_SHAPE = (224, 224)

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


def sdpa_flop_jit(inputs: List, outputs: List) -> int:
    """FlopAnalyzer handle for ``scaled_dot_product_attention`` (BA2M's global
    branch), which mmengine does not count: ``Q K^T`` and ``softmax(.) V`` are
    two batched matmuls, ``prod(batch) * M * L * (d + d_v)`` multiply-adds for
    queries (..., M, d), keys (..., L, d) and values (..., L, d_v)."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = 1
    for size in q[:-2]:
        batch *= size
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def sample_attention_flop_jit(inputs: List, outputs: List) -> int:
    """FlopAnalyzer handle for BA2M's fused SAR node (``SampleAttention``, a
    Python autograd Function that the tracer cannot look into): the BN-scaled
    ``W h`` of every branch, ``B * N * C * d`` multiply-adds for pooled hidden
    units (B, N, d) and weights (B, C, d); the max and mean are not counted."""
    from mmengine.analysis.jit_handles import get_shape
    (num_branches, n, hidden), channels = get_shape(inputs[4]), get_shape(inputs[5])[1]
    return num_branches * n * channels * hidden


SDPA_OPS = ('aten::scaled_dot_product_attention', 'aten::_scaled_dot_product_flash_attention',
            'aten::_scaled_dot_product_flash_attention_for_cpu',
            'aten::_scaled_dot_product_efficient_attention')
# Cheap element-wise / indexing ops without a FlopAnalyzer handle (listed last).
NEGLIGIBLE = ('aten::add', 'aten::add_', 'aten::mul', 'aten::mul_', 'aten::div', 'aten::sub',
              'aten::relu', 'aten::relu_', 'aten::sigmoid', 'aten::softmax', 'aten::mean',
              'aten::max', 'aten::max_pool2d', 'aten::bincount', 'aten::exp', 'aten::sum',
              'aten::numel', 'aten::rsqrt_', 'aten::var_mean', 'aten::reciprocal', 'aten::lerp_',
              'aten::clamp')


def ba2m_module_paths(model: nn.Module) -> List[str]:
    """Paths of the BA2M modules of ``model`` (not nested in another BA2M)."""
    from ba2m_mm.models.layers import BA2M
    return [name for name, m in model.named_modules() if isinstance(m, BA2M)]


def dummy_inputs(model: nn.Module, shape: Tuple[int, int], batch: int):
    """Random inputs and, for detectors, the data samples ``_forward`` needs."""
    h, w = shape
    inputs = torch.rand(batch, 3, h, w)
    data_samples = None
    try:
        from mmdet.models.detectors import BaseDetector
        from mmdet.structures import DetDataSample
    except ImportError:  # pragma: no cover - mmdet not installed
        BaseDetector = None
    if BaseDetector is not None and isinstance(model, BaseDetector):
        meta = dict(
            img_shape=(h, w),
            ori_shape=(h, w),
            pad_shape=(h, w),
            batch_input_shape=(h, w),
            scale_factor=(1.0, 1.0))
        data_samples = [DetDataSample(metainfo=meta) for _ in range(batch)]
    return inputs, data_samples


def analyze(model: nn.Module,
            shape: Tuple[int, int],
            batch: int = 1,
            training: bool = False) -> Dict:
    """FLOPs of one forward in ``mode='tensor'`` (mmdet's ``_forward``).

    Args:
        model (nn.Module): An mmdet/mmpretrain model (or any module whose
            forward takes a (N, 3, H, W) tensor).
        shape (tuple[int, int]): Input (H, W).
        batch (int): Batch size; FLOPs are returned per image. Defaults to 1.
        training (bool): Analyse in training mode. Defaults to False.

    Returns:
        dict: ``flops`` and ``ba2m_flops`` per image, ``unsupported`` ops
        (name -> count) and ``ba2m_called`` (BA2M modules that ran ops).
    """
    model.train(training)
    inputs, data_samples = dummy_inputs(model, shape, batch)
    forward = model.forward
    if 'mode' in forward.__code__.co_varnames:
        model.forward = partial(forward, data_samples=data_samples, mode='tensor')
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            analyzer = FlopAnalyzer(model, (inputs, ))
            for op in SDPA_OPS:
                analyzer.set_op_handle(op, sdpa_flop_jit)
            analyzer.set_op_handle('prim::PythonOp.SampleAttention', sample_attention_flop_jit)
            analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analyzer.tracer_warnings('none')
            total = analyzer.total()
            by_module = analyzer.by_module()
            unsupported = dict(analyzer.unsupported_ops())
    finally:
        if 'forward' in model.__dict__:
            del model.forward
        model.eval()
    paths = ba2m_module_paths(model)
    return dict(
        flops=total / batch,
        ba2m_flops=sum(by_module.get(p, 0) for p in paths) / batch,
        unsupported=unsupported,
        num_ba2m=len(paths))


def count_params(model: nn.Module) -> Tuple[int, int]:
    """Total parameters and the parameters inside BA2M modules."""
    counts = parameter_count(model)
    return counts[''], sum(counts.get(p, 0) for p in ba2m_module_paths(model))


def build_model(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` in the config's default scope, without loading weights."""
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    import ba2m_mm  # noqa: F401  registers BA2M, BA2MResNet
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    return revert_sync_batchnorm(model)


def default_shape(model: nn.Module) -> Tuple[int, int]:
    try:
        from mmdet.models.detectors import BaseDetector
        if isinstance(model, BaseDetector):
            return DET_SHAPE
    except ImportError:  # pragma: no cover
        pass
    return CLS_SHAPE


def complexity(model: nn.Module,
               shape: Optional[Sequence[int]] = None,
               train_batch: int = 2) -> Dict:
    """Parameters, deployed FLOPs and training FLOPs of ``model``.

    Returns:
        dict: ``params``, ``ba2m_params``, ``eval`` and ``train`` (results of
        :func:`analyze`), ``shape`` (H, W).
    """
    shape = tuple(shape) if shape else default_shape(model)
    params, ba2m_params = count_params(model)
    result = dict(
        shape=shape,
        params=params,
        ba2m_params=ba2m_params,
        eval=analyze(model, shape, batch=1, training=False))
    result['train'] = analyze(model, shape, batch=train_batch, training=True)
    return result


def describe(result: Dict, name: str) -> str:
    ev, tr = result['eval'], result['train']
    h, w = result['shape']
    lines = [
        '=' * 72,
        f'Model: {name}',
        f'Input shape: (3, {h}, {w}); BA2M modules: {ev["num_ba2m"]}',
        f'Params: {result["params"] / 1e6:.2f} M (of which BA2M: '
        f'{result["ba2m_params"] / 1e6:.3f} M)',
        f'FLOPs deployed (eval mode, BA2M = identity): {ev["flops"] / 1e9:.3f} G'
        f' (BA2M: {ev["ba2m_flops"] / 1e9:.3f} G)',
        f'FLOPs in training (train mode, per image): {tr["flops"] / 1e9:.3f} G (BA2M: '
        f'{tr["ba2m_flops"] / 1e9:.3f} G = {100 * tr["ba2m_flops"] / tr["flops"]:.1f}%)',
    ]
    ops = dict(ev['unsupported'])
    ops.update(tr['unsupported'])
    if ops:
        # Listed in full; most are element-wise/indexing ops FlopAnalyzer never counts.
        ordered = sorted(ops.items(), key=lambda kv: (kv[0] in NEGLIGIBLE, kv[0]))
        lines.append('Ops without a FlopAnalyzer handle (not counted): ' +
                     ', '.join(f'{k} x{v}' for k, v in ordered))
    lines += [
        'Notes: 1 FLOP = 1 multiply-add (mmengine.analysis, as in the paper). BA2M is the '
        'identity at inference, so deployed FLOPs equal the plain network\'s. Training FLOPs '
        'are those of a train-mode forward, per image (BatchNorm counts more in train mode).',
        '=' * 72,
    ]
    return '\n'.join(lines)


# --------------------------------------------------------------------------- paper table
def mim_config(package: str, path: str) -> Config:
    """Load a config shipped in ``<package>/.mim/configs``."""
    return Config.fromfile(osp.join(get_installed_path(package), '.mim', 'configs', path))


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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs (deployed and training) of a model config.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input size H W (or one size for a square). Default: 800 1280 '
        'for detectors, 224 224 otherwise')
    parser.add_argument(
        '--train-batch',
        type=int,
        default=2,
        help='batch size of the training-mode analysis (>= 2; FLOPs are '
        'reported per image). Default: 2')
    parser.add_argument(
        '--paper-table',
        action='store_true',
        help='compare R18/34/50/101 and ResNeXt-50/101 +- BA2M (224x224, paper tables '
        'V/XII), DenseNet-100, ShuffleNetV2, MobileNetV2, EfficientNet-B0 +- BA2M on '
        'CIFAR-100 (32x32, table X) and Faster/Mask R-CNN R50/R101 +- BA2M (1280x800)')
    parser.add_argument(
        '--paper-settings',
        nargs='+',
        choices=('cls', 'light', 'det'),
        default=['cls', 'light', 'det'],
        help='rows of --paper-table: cls (ImageNet ResNet/ResNeXt), light (Table X '
        'lightweight nets), det (detectors, slowest). Default: all')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    args = parser.parse_args(argv)
    if not args.paper_table and not args.config:
        parser.error('give a CONFIG, or --paper-table')
    if args.shape is not None:
        if len(args.shape) == 1:
            args.shape = args.shape * 2
        if len(args.shape) != 2 or min(args.shape) < 32:
            parser.error(f'--shape takes H W (each >= 32) or one size, got {args.shape}')
    if args.train_batch < 2:
        parser.error(f'--train-batch must be >= 2 (BA2M is inactive on a batch of one), '
                     f'got {args.train_batch}')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.paper_table:
        rows = paper_table(args.paper_settings, args.train_batch)
        print(format_paper_table(rows))
        return rows
    if not osp.exists(args.config):
        raise FileNotFoundError(f'config {args.config!r} not found')
    import ba2m_mm  # noqa: F401  before loading: lets configs inherit 'ba2m_mm::...'
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg)
    result = complexity(model, args.shape, args.train_batch)
    print(describe(result, f'{args.config} ({type(model).__name__})'))
    return result


if __name__ == '__main__':
    main()
    sys.exit(0)
