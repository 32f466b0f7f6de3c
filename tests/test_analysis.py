"""Analysis tools: complexity (get_flops), benchmark and t-SNE."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from ba2m_mm.analysis import (benchmark_report, benchmark_settings, comparison_models, flops,
                              paper_tables, peak_memory, profiling_counts, step_timing)
from ba2m_mm.models.layers import BA2M

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', 'tools', 'analysis'))
import benchmark  # noqa: E402  the command lines: argument parsing only
import get_flops  # noqa: E402
import tsne  # noqa: E402


def ba2m_params_formula(c, r, branches=('channel', 'local', 'global')):
    """Parameter count of the BA2M docstring, with d = C // R, G = gcd(R, d, C)."""
    d = c // r
    g = math.gcd(math.gcd(r, d), c)
    formula = dict(
        channel=2 * c * d + d + 2 * c,
        local=2 * c * d + 9 * d * d + 2 * d + 2 * c,
        **{'global': 4 * c * d // g + d + 2 * c})
    return sum(formula[b] for b in branches)


# --------------------------------------------------------------------------- get_flops
def test_plain_resnet50_params_match_mmpretrain():
    model = flops.build_model(paper_tables.classifier_cfg(50, ba2m=False))
    assert flops.count_params(model) == (25_557_032, 0)


@pytest.mark.parametrize('c, r, branches', [(64, 4, ('channel', 'local', 'global')),
                                            (256, 32, ('channel', 'local', 'global')),
                                            (96, 8, ('local', 'global')), (48, 2, ('channel', ))])
def test_ba2m_params_match_docstring_formula(c, r, branches):
    module = nn.Sequential(BA2M(c, reduction=r, branches=branches))
    total, in_ba2m = flops.count_params(module)
    assert total == in_ba2m == ba2m_params_formula(c, r, branches)


def test_ba2m_resnet50_params_are_plain_plus_formula():
    model = flops.build_model(paper_tables.classifier_cfg(50, ba2m=True))
    total, in_ba2m = flops.count_params(model)
    expected = sum(ba2m_params_formula(c, 32) for c in (256, 512, 1024, 2048))
    assert in_ba2m == expected == 792_352
    assert total == 25_557_032 + expected


class TinyConvNet(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def test_tiny_conv_net_flops_exact():
    result = flops.analyze(TinyConvNet(), (16, 16), batch=1)
    # conv: 16*16 outputs x 8 channels x (3*3*3) MACs; fc: 8*4 MACs.
    assert result['flops'] == 16 * 16 * 8 * 27 + 8 * 4
    assert result['ba2m_flops'] == 0 and result['num_ba2m'] == 0
    # per image: a batch of 2 gives the same per-image count
    assert flops.analyze(TinyConvNet(), (16, 16), batch=2)['flops'] == result['flops']


class GlobalBranchNet(nn.Module):

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 1, bias=False)
        self.ba2m = BA2M(16, reduction=4, branches=('global', ), gsa_mode='exact')

    def forward(self, x):
        return self.ba2m(self.stem(x))


def test_ba2m_flops_zero_deployed_and_exact_in_training():
    model = GlobalBranchNet()
    deployed = flops.analyze(model, (8, 8), batch=1, training=False)
    stem = 8 * 8 * 16 * 3
    assert deployed['flops'] == stem and deployed['ba2m_flops'] == 0
    train = flops.analyze(model, (8, 8), batch=2, training=True)
    hw, c, d = 64, 16, 4
    expected = (
        3 * hw * c * d  # f, g, h: one block-diagonal (3d, C) product, zeros included
        + hw * hw * d  # Q K^T (exact: all hw queries)
        + hw * d  # mean attention row times V
        + c * d  # W h of the branch in the fused SAR node (SampleAttention handle)
        + c * d)  # W h again for the running statistics
    assert train['flops'] - stem == train['ba2m_flops'] == expected
    assert 'aten::scaled_dot_product_attention' not in train['unsupported']
    assert model.training is False  # analyze leaves the model in eval mode


TINY_CLS = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, base_channels=8, stem_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=3, in_channels=64, loss=dict(type='CrossEntropyLoss')))


def tiny_cls_cfg(ba2m: bool, **extra) -> Config:
    model = json.loads(json.dumps(TINY_CLS))
    if ba2m:
        model['backbone'].update(type='BA2MResNet', ba2m_cfg=dict(reduction=4))
    return Config(dict(model=model, default_scope='mmpretrain', **extra))


def test_ba2m_deployed_flops_equal_plain():
    plain = flops.complexity(flops.build_model(tiny_cls_cfg(False)), (32, 32))
    ba2m = flops.complexity(flops.build_model(tiny_cls_cfg(True)), (32, 32))
    assert ba2m['eval']['flops'] == plain['eval']['flops'] > 0
    assert ba2m['eval']['ba2m_flops'] == 0 and ba2m['eval']['num_ba2m'] == 4
    assert ba2m['train']['flops'] - plain['train']['flops'] == ba2m['train']['ba2m_flops'] > 0
    assert ba2m['params'] - plain['params'] == ba2m['ba2m_params'] == sum(
        ba2m_params_formula(c, 4) for c in (8, 16, 32, 64))


def test_get_flops_cli(tmp_path, capsys):
    cfg = tiny_cls_cfg(True, custom_imports=dict(imports=['ba2m_mm'], allow_failed_imports=False))
    path = str(tmp_path / 'tiny.py')
    cfg.dump(path)
    result = get_flops.main(
        [path, '--shape', '32', '--cfg-options', 'model.backbone.ba2m_cfg.reduction=8'])
    out = capsys.readouterr().out
    assert 'Input shape: (3, 32, 32); BA2M modules: 4' in out
    assert 'FLOPs deployed (eval mode, BA2M = identity)' in out
    assert result['ba2m_params'] == sum(ba2m_params_formula(c, 8) for c in (8, 16, 32, 64))
    with pytest.raises(SystemExit):
        get_flops.main([path, '--train-batch', '1'])


def test_paper_table_variant_rows():
    """--paper-table rows of Tables X and XII: upstream architectures, BA2M parameters
    counted from the BA2M modules, the paper's overhead next to ours."""
    plain = flops.build_model(paper_tables.resnext_classifier_cfg(50, ba2m=False))
    assert flops.count_params(plain) == (25_028_904, 0)  # mmpretrain: 25.03 M
    model = flops.build_model(paper_tables.light_classifier_cfg('MobileNetV2', ba2m=True))
    assert model.head.fc.out_features == 100 and model.head.fc.in_features == 1280
    assert model.backbone.ba2m_stages == (False, False, True, True, True, True, True)
    total, in_ba2m = flops.count_params(model)
    assert in_ba2m == sum(p.numel() for m in model.backbone.ba2m_modules()
                          for p in m.parameters()) > 0
    plain = flops.build_model(paper_tables.light_classifier_cfg('MobileNetV2', ba2m=False))
    assert total - flops.count_params(plain)[0] == in_ba2m
    row = dict(
        name='MobileNetV2 + BA2M',
        shape=(32, 32),
        params=total,
        ba2m_params=in_ba2m,
        eval=dict(flops=7e6),
        train=dict(flops=7.5e6, ba2m_flops=1e5))
    line = paper_tables.format_paper_table([row]).splitlines()[2]
    assert line.split()[4:10] == [
        '2.31', f'{in_ba2m / 1e6:.3f}', '+0.05', '0.007', '0.007', '0.000'
    ]


# --------------------------------------------------------------------------- benchmark
def test_benchmark_plugins_as_mmdet_configs():
    gcnet = comparison_models.build('cls', 'gcnet')
    attn = comparison_models.build('cls', 'attn1111')
    from mmcv.cnn.bricks import ContextBlock, GeneralizedAttention
    blocks = [m for m in gcnet.modules() if isinstance(m, ContextBlock)]
    assert len(blocks) == 4 + 6 + 3  # stages c3-c5 of ResNet-50
    assert blocks[0].ratio == 1. / 16
    assert sum(isinstance(m, GeneralizedAttention) for m in attn.modules()) == 6 + 3
    det_cfg = comparison_models.det_model_cfg('ba2m-sampled')
    assert det_cfg['backbone']['type'] == 'BA2MResNet'
    assert det_cfg['backbone']['ba2m_cfg']['gsa_mode'] == 'sampled'


def test_benchmark_small_run(tmp_path, monkeypatch):
    real_cfg = comparison_models.cls_model_cfg

    def tiny_cfg(name):  # the benchmark's ResNet-50 models, narrowed to ResNet-18 width 8
        model = real_cfg(name)
        model['backbone'].update(depth=18, base_channels=8, stem_channels=8)
        model['head']['in_channels'] = 64
        if 'ba2m_cfg' in model['backbone']:
            model['backbone']['ba2m_cfg']['reduction'] = 4
        return model

    monkeypatch.setattr(comparison_models, 'cls_model_cfg', tiny_cfg)
    monkeypatch.setitem(benchmark_settings.SETTINGS, 'cls',
                        dict(batch=2, shape=(32, 32), rounds=1, steps=1, warmup=0))
    res = step_timing.run_setting(
        'cls', ['plain', 'ba2m-auto'], rounds=2, steps=1, warmup=0, device=torch.device('cpu'))
    plain, ba2m = res['models']['plain'], res['models']['ba2m-auto']
    assert len(ba2m['train_times']) == 2 and ba2m['train_s'] > 0 and ba2m['infer_s'] > 0
    assert plain['train_ratio'] == 1.0
    assert ba2m['train_ratio'] == pytest.approx(ba2m['train_s'] / plain['train_s'])
    assert ba2m['peak_mem_mib'] >= 0
    text = benchmark_report.format_results('cls', res)
    assert 'goals (ba2m-auto / plain): train <= 1.15' in text
    out = str(tmp_path / 'b.png')
    benchmark_report.plot(dict(cls=res), out)
    with open(out, 'rb') as f:
        assert f.read(4) == b'\x89PNG'


def test_benchmark_detection_path(monkeypatch):
    real_cfg = comparison_models.det_model_cfg

    def tiny_cfg(name):  # the benchmark's Faster R-CNN, narrowed (R-18 width 8, FPN 16)
        model = real_cfg(name)
        model.backbone.update(depth=18, base_channels=8)
        if 'ba2m_cfg' in model.backbone:
            model.backbone.ba2m_cfg.reduction = 4
        model.neck.update(in_channels=[8, 16, 32, 64], out_channels=16)
        model.rpn_head.update(in_channels=16, feat_channels=16)
        model.roi_head.bbox_roi_extractor.out_channels = 16
        model.roi_head.bbox_head.update(in_channels=16, fc_out_channels=32)
        return model

    monkeypatch.setattr(comparison_models, 'det_model_cfg', tiny_cfg)
    monkeypatch.setitem(benchmark_settings.SETTINGS, 'det',
                        dict(batch=2, shape=(96, 128), rounds=1, steps=1, warmup=0))
    res = step_timing.run_setting(
        'det', ['plain', 'ba2m-sampled'], rounds=1, steps=1, warmup=0, device=torch.device('cpu'))
    assert set(res['models']) == {'plain', 'ba2m-sampled'}
    assert res['models']['ba2m-sampled']['train_s'] > 0
    assert 'goals' not in benchmark_report.format_results('det', res)  # ba2m-auto not run


def tiny_det_backbone_cfg(name):
    """The benchmark's detection backbone, narrowed to ResNet-18 width 8."""
    cfg = REAL_DET_BACKBONE_CFG(name)
    cfg.update(depth=18, base_channels=8, stem_channels=8)
    if 'ba2m_cfg' in cfg:
        cfg['ba2m_cfg']['reduction'] = 4
    return cfg


REAL_DET_BACKBONE_CFG = comparison_models.det_backbone_cfg


def test_det_backbone_is_the_backbone_of_our_detection_configs():
    ours = Config.fromfile(osp.join(REPO, 'configs', 'faster_rcnn_r50_ba2m_2x_coco.py'))
    ours = ours.model.backbone
    bench = comparison_models.det_backbone_cfg('ba2m-auto')
    for key in ('depth', 'num_stages', 'out_indices', 'frozen_stages', 'norm_eval', 'style',
                'ba2m_stages'):
        assert tuple(bench[key]) == tuple(ours[key]) if isinstance(
            ours[key], (list, tuple)) else bench[key] == ours[key], key
    for key in ('reduction', 'normalize', 'gsa_mode'):
        assert bench['ba2m_cfg'][key] == ours.ba2m_cfg[key], key
    assert comparison_models.det_backbone_cfg('plain')['type'] == 'ResNet'
    with pytest.raises(ValueError, match="det-backbone compares plain and BA2M.*'gcnet'"):
        comparison_models.det_backbone_cfg('gcnet')
    # The per-device batches: CPU settings unchanged, CUDA at the per-GPU batches.
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    assert benchmark_settings.setting_spec('cls', cpu)['batch'] == 8
    assert benchmark_settings.setting_spec('cls', cuda)['batch'] == 32
    assert benchmark_settings.setting_spec('det', cuda)['batch'] == 2
    assert benchmark_settings.setting_spec('det-backbone', cuda)['shape'] == (800, 1344)
    assert benchmark_settings.setting_spec('cls', cuda, 4, (64, 64))['batch'] == 4


def test_profile_mode_counts_aten_ops_on_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(comparison_models, 'det_backbone_cfg', tiny_det_backbone_cfg)
    spec = dict(batch=2, shape=(64, 64))
    res = profiling_counts.run_profile(
        'det-backbone', ['plain', 'ba2m-auto'],
        steps=2,
        warmup=1,
        device=torch.device('cpu'),
        spec=spec,
        out_dir=str(tmp_path))
    plain, ba2m = res['models']['plain'], res['models']['ba2m-auto']
    # After a warm-up every profiled step dispatches the same ops: a whole number per step.
    assert plain['aten_ops'] == int(plain['aten_ops']) > 100
    assert ba2m['aten_ops'] == int(ba2m['aten_ops'])
    assert ba2m['aten_ops'] > plain['aten_ops'] + 3 * 50  # 3 BA2M modules (stages 2-4)
    assert plain['cpu_ms'] > 0
    for key in ('kernel_launches', 'gpu_kernel_ms', 'launch_events'):
        assert plain[key] is None and ba2m[key] is None  # no CUDA
    table = profiling_counts.format_profile_steps({'det-backbone': res})
    assert '| kernel launches | n/a | n/a | n/a |' in table
    assert f'| aten ops | {plain["aten_ops"]:,.0f} | {ba2m["aten_ops"]:,.0f} | ' in table
    assert 'gradients accumulate, no optimizer step' in table
    assert (tmp_path / 'profile_det-backbone_ba2m-auto.txt').read_text().count('aten::') > 10


def test_profile_counts_on_cuda_events():
    from types import SimpleNamespace

    from torch.autograd import DeviceType

    def event(key, count, device=DeviceType.CPU, device_us=0.0, cpu_us=0.0):
        return SimpleNamespace(
            key=key,
            count=count,
            device_type=device,
            self_device_time_total=device_us,
            self_cpu_time_total=cpu_us,
            is_user_annotation=False)

    # Two steps: what kineto gives, with each kernel also attached to its aten op.
    events = [
        event('aten::conv2d', 4, cpu_us=100.0),
        event('aten::cudnn_convolution', 4, device_us=3000.0, cpu_us=200.0),
        event('cudaLaunchKernel', 6, cpu_us=30.0),
        event('cuLaunchKernel', 2, cpu_us=10.0),
        event('cudaMemcpyAsync', 1, cpu_us=5.0),
        event('sm90_xmma_fprop_kernel', 8, DeviceType.CUDA, device_us=3000.0),
        event('Memcpy HtoD (Pageable -> Device)', 1, DeviceType.CUDA, device_us=40.0),
    ]
    out = profiling_counts.profile_counts(events, steps=2, cuda=True)
    assert out['aten_ops'] == 4
    assert out['kernel_launches'] == 4
    assert out['launch_events'] == {'cudaLaunchKernel': 3, 'cuLaunchKernel': 1}
    assert out['kernels'] == 4
    assert out['gpu_kernel_ms'] == pytest.approx(1.5)
    assert out['gpu_memcpy_memset_ms'] == pytest.approx(0.02)
    assert out['gpu_all_events_ms'] == pytest.approx(3.02)  # the kernel counted twice
    assert out['cpu_ms'] == pytest.approx(0.1725)
    cpu = profiling_counts.profile_counts(events, steps=2, cuda=False)
    assert cpu['aten_ops'] == 4 and cpu['kernel_launches'] is None


def test_benchmark_cuda_without_mmcv_ops(monkeypatch, capsys):
    """A bare CUDA machine (mmcv-lite, no mmdet): backbone and mmpretrain settings only."""
    monkeypatch.setattr(benchmark_settings, 'mmdet_stack', lambda device:
                        (False, False, 'mmcv has no compiled ops (mmcv-lite?)'))
    cuda = torch.device('cuda')
    settings, models = benchmark_settings.resolve_settings(cuda)
    assert settings == ['cls', 'det-backbone']
    assert 'gcnet' not in models['cls'] and 'ba2m-auto' in models['cls']
    assert models['det-backbone'] == ['plain', 'ba2m-auto']
    out = capsys.readouterr().out
    assert 'det left out: mmcv has no compiled ops' in out
    with pytest.raises(SystemExit, match='--settings det on cuda.*FORCE_CUDA=1'):
        benchmark_settings.resolve_settings(cuda, settings=['det'])
    with pytest.raises(SystemExit, match=r"--models \['gcnet'\]: mmdet ResNet plugins"):
        benchmark_settings.resolve_settings(cuda, settings=['cls'], models=['plain', 'gcnet'])
    # With mmcv's CUDA ops: det runs in fp32; with --amp it is left out (RoIAlign has no bf16).
    monkeypatch.setattr(benchmark_settings, 'mmdet_stack', lambda device:
                        (True, True, 'ops with CUDA'))
    assert benchmark_settings.resolve_settings(cuda, amp=False)[0] == ['cls', 'det-backbone', 'det']
    assert benchmark_settings.resolve_settings(cuda, amp=True)[0] == ['cls', 'det-backbone']
    with pytest.raises(SystemExit, match='--amp with --settings det on cuda'):
        benchmark_settings.resolve_settings(cuda, settings=['det'], amp=True)
    settings, models = benchmark_settings.resolve_settings(cuda, profile=True)
    assert settings == ['det-backbone', 'cls'] and models['cls'] == ['plain', 'ba2m-auto']
    # The CPU defaults are unchanged.
    settings, models = benchmark_settings.resolve_settings(torch.device('cpu'))
    assert settings == ['cls', 'det'] and models['cls'] == list(comparison_models.MODELS_ALL)


def test_benchmark_arguments_and_amp_wrappers():
    from ba2m_mm.launch import CPUAmpOptimWrapper
    args = benchmark.parse_args(['--profile', '--settings', 'det-backbone', '--shape', '64', '96'])
    assert args.profile and args.shape == [64, 96] and not args.amp
    for argv, message in ((['--batch-size', '1'], '--batch-size must be >= 2'),
                          (['--shape', '16', '64'], '--shape H W must be >= 32'),
                          (['--profile', '--profile-branches'],
                           'two different modes'), (['--device',
                                                     'tpu'], '--device must be cpu or cuda')):
        with pytest.raises(SystemExit):
            benchmark.parse_args(argv)
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            benchmark.parse_args(['--device', 'cuda'])
    params = [nn.Parameter(torch.zeros(2))]
    cpu = torch.device('cpu')
    wrapper = step_timing.make_optim_wrapper('det', params, cpu, amp=True)
    assert isinstance(wrapper, CPUAmpOptimWrapper)
    assert wrapper.autocast_scope == ('backbone', 'neck')
    assert step_timing.make_optim_wrapper('cls', params, cpu, amp=True).autocast_scope is None
    assert type(step_timing.make_optim_wrapper('cls', params, cpu)).__name__ == 'OptimWrapper'
    with pytest.raises(ValueError, match='RoIAlign has no bfloat16 kernel'):
        step_timing.make_optim_wrapper('det', params, torch.device('cuda'), amp=True)


def test_benchmark_det_backbone_amp_step(monkeypatch):
    monkeypatch.setattr(comparison_models, 'det_backbone_cfg', tiny_det_backbone_cfg)
    c = step_timing.Candidate(
        'det-backbone', 'ba2m-auto', torch.device('cpu'), 2, (64, 64), amp=True)
    before = [p.detach().clone() for p in c.model.parameters() if p.requires_grad]
    c.train_step()
    after = [p for p in c.model.parameters() if p.requires_grad]
    assert any(not torch.equal(b, a) for b, a in zip(before, after))  # the SGD step ran
    assert all(p.grad is None for p in after)  # zero_grad(set_to_none)
    weights = [m.last_weights for m in c.model.modules() if isinstance(m, BA2M)]
    assert len(weights) == 3 and all(w.dtype == torch.float32 and w.numel() == 2 for w in weights)
    c.infer_step()


def test_peak_rss_sees_an_allocation():
    # A fresh process with the allocator settings benchmark.py runs with.
    code = ('import time, torch\n'
            'from ba2m_mm.analysis.peak_memory import PeakRSS\n'
            'with PeakRSS() as rss:\n'
            '    x = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched\n'
            '    time.sleep(0.1)\n'
            '    del x\n'
            'print(rss.delta)\n')
    env = dict(os.environ, **peak_memory.MALLOC_ENV)
    out = subprocess.run([sys.executable, '-c', code],
                         env=env,
                         check=True,
                         text=True,
                         capture_output=True,
                         cwd=REPO).stdout
    assert 60 * 2**20 <= int(out.split()[-1]) < 200 * 2**20


# --------------------------------------------------------------------------- t-SNE
DET_CFG = """
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)
model = dict(
    backbone=dict(type='{backbone}', depth=18, base_channels=8, frozen_stages=-1,
                  init_cfg=None{extra}),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    rpn_head=dict(in_channels=16, feat_channels=16),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=16),
                  bbox_head=dict(in_channels=16, fc_out_channels=32, num_classes=2)))
val_dataloader = dict(
    batch_size=2,
    dataset=dict(
        data_root='{root}/',
        ann_file='ann.json',
        data_prefix=dict(img='images/'),
        metainfo=dict(classes=('a', 'b')),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(96, 96), keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs',
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
        ]))
"""


@pytest.fixture
def tiny_coco(tmp_path):
    """Five 64x64 images with 2-3 boxes each, classes 'a' and 'b'."""
    rng = np.random.RandomState(0)
    (tmp_path / 'images').mkdir()
    images, anns = [], []
    for i in range(5):
        cv2.imwrite(
            str(tmp_path / 'images' / f'{i}.png'),
            rng.randint(0, 255, (64, 64, 3)).astype(np.uint8))
        images.append(dict(id=i, file_name=f'{i}.png', width=64, height=64))
        for k in range(2 + i % 2):
            x, y = rng.randint(0, 40, 2)
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=i,
                    category_id=1 + (i + k) % 2,
                    bbox=[int(x), int(y), 20, 16],
                    area=320,
                    iscrowd=0))
    categories = [dict(id=1, name='a'), dict(id=2, name='b')]
    with open(tmp_path / 'ann.json', 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=categories), f)
    return tmp_path, anns


def write_det_model(tmp_path, root, ba2m: bool):
    from mmengine.registry import MODELS, init_default_scope

    import ba2m_mm  # noqa: F401
    extra = ', ba2m_cfg=dict(reduction=4)' if ba2m else ''
    cfg_text = DET_CFG.format(backbone='BA2MResNet' if ba2m else 'ResNet', extra=extra, root=root)
    name = 'ba2m' if ba2m else 'plain'
    cfg_path = tmp_path / f'{name}.py'
    cfg_path.write_text(cfg_text)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(cfg_path)).model)
    ckpt = tmp_path / f'{name}.pth'
    torch.save({'state_dict': model.state_dict()}, str(ckpt))
    return str(cfg_path), str(ckpt)


def test_fix_pipeline_loads_annotations_before_resize():
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(8, 8)),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs')
    ]
    fixed = tsne.fix_pipeline(pipeline)
    assert [t['type']
            for t in fixed] == ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'PackDetInputs']
    assert tsne.fix_pipeline(fixed) == fixed


def test_tsne_detection_one_feature_per_gt_object(tiny_coco, tmp_path):
    root, anns = tiny_coco
    cfg, ckpt = write_det_model(tmp_path, root, ba2m=True)
    model, loader = tsne.build_model_and_loader(cfg, ckpt, 'val', batch_size=2)
    # boxes follow the 64 -> 96 resize
    data = next(iter(loader))
    first = sorted(([a['bbox'] for a in anns if a['image_id'] == 0]))
    boxes = sorted(tsne.boxes_of(data['data_samples'][0]).tolist())
    assert boxes[0] == pytest.approx(
        [v * 1.5 for v in (first[0][0], first[0][1], first[0][0] + 20, first[0][1] + 16)])
    feats, labels = tsne.extract_features(model, loader)
    assert feats.shape == (len(anns), 64)  # last stage: 8 * 8 channels
    assert sorted(labels.tolist()) == sorted(a['category_id'] - 1 for a in anns)
    assert np.isfinite(feats).all() and feats.std() > 0


def test_tsne_cli_side_by_side(tiny_coco, tmp_path):
    root, _ = tiny_coco
    ba2m_cfg, ba2m_ckpt = write_det_model(tmp_path, root, ba2m=True)
    plain_cfg, plain_ckpt = write_det_model(tmp_path, root, ba2m=False)
    out = str(tmp_path / 'tsne.png')
    assert tsne.main([ba2m_cfg, ba2m_ckpt, '--compare', plain_cfg, plain_ckpt, '--out', out]) == out
    with open(out, 'rb') as f:
        assert f.read(4) == b'\x89PNG'


def test_tsne_classification_one_feature_per_image(tmp_path):
    rng = np.random.RandomState(0)
    for cls in ('cat', 'dog'):
        (tmp_path / 'data' / cls).mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(
                str(tmp_path / 'data' / cls / f'{i}.png'),
                rng.randint(0, 255, (32, 32, 3)).astype(np.uint8))
    cfg = tiny_cls_cfg(
        True,
        custom_imports=dict(imports=['ba2m_mm'], allow_failed_imports=False),
        val_dataloader=dict(
            batch_size=3,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='CustomDataset',
                data_root=str(tmp_path / 'data'),
                pipeline=[dict(type='LoadImageFromFile'),
                          dict(type='PackInputs')])))
    cfg_path = str(tmp_path / 'cls.py')
    cfg.dump(cfg_path)
    model = flops.build_model(cfg)
    ckpt = str(tmp_path / 'cls.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    model, loader = tsne.build_model_and_loader(cfg_path, ckpt, 'val', batch_size=3)
    feats, labels = tsne.extract_features(model, loader)
    assert feats.shape == (8, 64)
    assert sorted(labels.tolist()) == [0] * 4 + [1] * 4
    out = str(tmp_path / 'cls_tsne.png')
    tsne.main([cfg_path, ckpt, '--out', out, '--perplexity', '2'])
    assert osp.getsize(out) > 0


def test_tsne_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='config'):
        tsne.main([str(tmp_path / 'missing.py'), 'x.pth'])
    with pytest.raises(ValueError, match='at least 5 items'):
        tsne.embed(np.zeros((3, 4)))


def test_gsa_sampling_error_is_zero_when_every_position_is_sampled():
    import gsa_sampling_error
    rows = gsa_sampling_error.measure(16, (6, 6), [36, 4], batch=2, draws=2, reduction=4, seed=0)
    exact, sampled = rows
    assert exact['samples'] == 36 and exact['relative_error'] == 0  # M >= H*W: exact
    assert exact['error_in_spread'] == 0
    assert sampled['relative_error'] > 0 and sampled['error_in_spread'] > 0
