"""Training/inference cost of BA2M against plain ResNet-50 and other attention plugins.

One process, interleaved rounds: after a warm-up, every round measures each
model in turn (so a load change on the machine hits all models alike), and the
median over rounds is reported. Per model and setting:

- training step time: ``model.train_step`` (data preprocessor, forward, loss,
  backward and an SGD step), seconds per step;
- peak memory of a training step: on GPU ``torch.cuda.max_memory_allocated``
  minus the memory allocated before the step; on CPU the peak resident set
  size (RSS, sampled every 2 ms by psutil) minus the RSS before the step. The
  script re-executes itself with glibc's ``MALLOC_MMAP_THRESHOLD_`` fixed so
  that freed activations go back to the OS and the RSS delta is meaningful;
- inference time: ``model.test_step`` in eval mode (BA2M is the identity).

Settings: ``cls`` = mmpretrain ImageClassifier ResNet-50, 224x224, batch 8
on CPU, 32 on CUDA (the per-GPU batch of ``resnet50_ba2m_8xb32_in1k.py``);
``det`` = mmdet Faster R-CNN R-50-FPN, 800x1333, batch 2 (about 25 s a step
on 2 CPU cores); ``det-backbone`` = the detection backbone alone (mmpretrain
ResNet-50 / BA2MResNet, BA2M after stages 2-4, ``frozen_stages=1``,
``norm_eval=True``, as in our detection configs), input 2x3x800x1344 (800x1333
padded to a multiple of 32), loss = sum of the mean of each stage output; it
needs neither mmdet nor mmcv's compiled ops. Models: ``plain``;
``ba2m-exact``, ``ba2m-sampled``, ``ba2m-auto`` (BA2MResNet with that
``gsa_mode``); ``gcnet`` (mmcv ContextBlock, r16, stages c3-c5, after_conv3,
as mmdet's gcnet configs) and ``attn1111`` (mmdet GeneralizedAttention as in
``empirical_attention/faster-rcnn_r50-attn1111_fpn_1x_coco.py``), both as
in-block plugins of mmdet's ResNet (``cls`` and ``det`` only). ``det`` skips
``ba2m-exact`` unless asked for with ``--models`` (exact attention over 66,800
stage-1 positions).

CPU (the default without CUDA): ``--settings cls det``, exactly as before.

CUDA (``--device cuda``): per-GPU batches (cls 32, det and det-backbone 2),
more rounds, times from CUDA events around ``--steps`` steps with the device
synchronised before and after. Default settings ``cls det-backbone det``.
Full detectors need mmcv's CUDA ops (nms, RoIAlign) and mmdet; on a CUDA
machine without them (mmcv-lite, ``../shared/gpu/fetch_wheels.sh``) ``det``
and the mmdet-plugin models (``gcnet``, ``attn1111``) are left out with a
message, and asking for them is an error that says why.

``--amp``: bfloat16 mixed precision through mmengine's optimizer wrappers, the
way an OpenMMLab training run gets it: on CUDA ``AmpOptimWrapper(dtype=
'bfloat16', loss_scale=dict(enabled=False))`` (bf16 has float32's exponent
range, so no loss scaling; an enabled ``GradScaler`` would add a host sync per
step); on CPU ba2m_mm's ``CPUAmpOptimWrapper`` (bfloat16; for ``det`` only the
backbone and neck autocast, mmcv's CPU nms/RoIAlign have no bfloat16 kernels).
The autocast region is the wrapper's ``optim_context``, i.e. what
``model.train_step`` runs under in the Runner; inference runs under
``torch.autocast`` (not for ``det``). ``det --amp`` on CUDA is refused: mmcv
2.1's CUDA RoIAlign has float/double/half kernels only.

``--profile``: instead of timing, torch.profiler over ``--steps`` steps after
``--warmup`` steps, plain and BA2M side by side, per step: kernel launches
(runtime events ``cudaLaunchKernel``, ``cuLaunchKernel``,
``cudaLaunchKernelExC``, ... counted by name), ``aten::`` ops, and GPU kernel
time (sum of the durations of the device kernel events; memcpy/memset apart);
on CPU, launches and GPU time are n/a and the CPU time (sum of self CPU time
of all events, the footer of torch's table) is given instead. The
``det-backbone`` step profiled is forward + loss + backward with gradients
accumulating and no optimizer step (as the 2026-11-26 GPU table,
``../shared/gpu/gpu_check.py`` part 10); the ``cls`` and ``det`` steps are the
full ``model.train_step``. Writes ``profile.json``, ``profile.md`` and the
top-30 operator tables ``profile_<setting>_<model>.txt`` to ``--out-dir``.

Results: ratios to ``plain`` printed, plus ``benchmark.json`` and
``benchmark.png`` in ``--out-dir``. ``--profile-branches`` instead times
BA2M's channel/local/global branches (forward+backward) on the four
ResNet-50 stage shapes at 224x224, batch 8.

Examples::

    python tools/analysis/benchmark.py                       # cls + det, ~25 min idle CPU
    python tools/analysis/benchmark.py --settings cls --rounds 2 --steps 1
    python tools/analysis/benchmark.py --profile-branches
    python tools/analysis/benchmark.py --device cuda          # cls b32, det-backbone (+ det)
    python tools/analysis/benchmark.py --device cuda --amp
    python tools/analysis/benchmark.py --device cuda --profile   # launches / aten ops / GPU ms
    python tools/analysis/benchmark.py --profile --settings det-backbone --shape 128 192
    bash tools/analysis/gpu_benchmark.sh                        # all of it on a bare CUDA box
"""
import argparse
import copy
import importlib.util
import json
import os
import os.path as osp
import re
import statistics
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
MODELS_ALL = ('plain', 'ba2m-exact', 'ba2m-sampled', 'ba2m-auto', 'gcnet', 'attn1111')
MMDET_PLUGIN_MODELS = ('gcnet', 'attn1111')  # mmdet's ResNet with mmcv plugins
# Goals (reported, not asserted): BA2M (default config) / plain. CPU: no regression past
# 1.15 (classification) and 1.20 (detection); CUDA: a training step at most 1.10x the plain one.
GOALS = {
    'cls': dict(train=1.15, infer=1.01),
    'det': dict(train=1.20, infer=1.01),
    'det-backbone': dict(train=1.20, infer=1.01)
}
GOALS_CUDA = {s: dict(train=1.10, infer=1.01) for s in GOALS}
SETTINGS = {
    'cls':
    dict(batch=8, shape=(224, 224), rounds=5, steps=3, warmup=2, models=MODELS_ALL),
    'det':
    dict(
        batch=2,
        shape=(800, 1333),
        rounds=2,
        steps=1,
        warmup=1,
        models=tuple(m for m in MODELS_ALL if m != 'ba2m-exact')),
    # 800x1333 padded to a multiple of 32, as mmdet's data preprocessor does.
    'det-backbone':
    dict(batch=2, shape=(800, 1344), rounds=2, steps=1, warmup=1, models=('plain', 'ba2m-auto')),
}
# CUDA: the per-GPU batches of the configs (8xb32 classification, 2 images per GPU in
# detection) and more rounds (a step takes milliseconds, not seconds).
SETTINGS_CUDA = {
    'cls': dict(SETTINGS['cls'], batch=32, rounds=10, steps=5, warmup=5),
    'det': dict(SETTINGS['det'], rounds=5, steps=3, warmup=3),
    'det-backbone': dict(SETTINGS['det-backbone'], rounds=10, steps=5, warmup=5),
}
# --profile: steps profiled after the warm-up (per model), by device.
PROFILE_STEPS = dict(cpu=dict(warmup=1, steps=2), cuda=dict(warmup=3, steps=5))
PROFILE_SETTINGS = ('det-backbone', 'cls')
DEFAULT_BA2M = {'cls': 'ba2m-auto', 'det': 'ba2m-auto', 'det-backbone': 'ba2m-auto'}
# Runtime events that launch a kernel (CUPTI names; gpu_check.py counted the first three).
LAUNCH_EVENT = re.compile(r'^cu(da)?Launch(Cooperative)?Kernel')
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
MALLOC_ENV = {'MALLOC_MMAP_THRESHOLD_': '131072', 'MALLOC_TRIM_THRESHOLD_': '131072'}


def mim_config(package: str, path: str):
    from mmengine.config import Config
    from mmengine.utils import get_installed_path
    return Config.fromfile(osp.join(get_installed_path(package), '.mim', 'configs', path))


# --------------------------------------------------------------------------- models
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
    else:
        from mmdet.registry import MODELS
        scope, cfg = 'mmdet', det_model_cfg(name)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg)
    return revert_sync_batchnorm(model)


def make_batch(setting: str, batch: int, shape, seed: int = 0):
    """A batch as the data pipeline would give it (uint8 images + data samples);
    for ``det-backbone`` a normalised (batch, 3, H, W) float tensor."""
    g = torch.Generator().manual_seed(seed)
    h, w = shape
    if setting == 'det-backbone':
        return torch.randn(batch, 3, h, w, generator=g)
    inputs = [
        torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8) for _ in range(batch)
    ]
    if setting == 'cls':
        from mmpretrain.structures import DataSample
        samples = [DataSample().set_gt_label(i % 1000) for i in range(batch)]
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


# --------------------------------------------------------------------------- measuring
def sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class PeakRSS:
    """Peak resident set size while the context is open, sampled by a thread."""

    def __init__(self, interval: float = 0.002):
        import psutil
        self.process = psutil.Process()
        self.interval = interval

    def __enter__(self):
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def delta(self) -> int:
        return self.peak - self.start


def make_optim_wrapper(setting: str, params, device: torch.device, amp: bool = False):
    """SGD in the mmengine optimizer wrapper that a training run would use.

    ``amp``: bfloat16 autocast. CUDA: ``AmpOptimWrapper`` with the loss scaler
    disabled (bf16 needs none; an enabled ``GradScaler`` costs a host sync a
    step). CPU: ba2m_mm's ``CPUAmpOptimWrapper`` (backbone and neck only for
    ``det``, as ba2m_mm's ``--amp``: mmcv's CPU ops have no bf16 kernels).
    """
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    from ba2m_mm.launch import CPUAmpOptimWrapper

    # A small lr keeps random-data training finite; the cost does not depend on it.
    optimizer = torch.optim.SGD(params, lr=1e-4, momentum=0.9)
    if not amp:
        return OptimWrapper(optimizer=optimizer)
    if device.type == 'cpu':
        scope = ('backbone', 'neck') if setting == 'det' else None
        return CPUAmpOptimWrapper(optimizer=optimizer, autocast_scope=scope)
    if setting == 'det':
        raise ValueError('--amp with --settings det on CUDA: mmcv 2.1\'s CUDA RoIAlign has no '
                         'bfloat16 kernel (float, double, half only); time det in fp32, or '
                         'the backbone with --settings det-backbone --amp')
    return AmpOptimWrapper(optimizer=optimizer, dtype='bfloat16', loss_scale=dict(enabled=False))


class Candidate:
    """One model of one setting, with its optimiser and its fixed batch."""

    def __init__(self,
                 setting: str,
                 name: str,
                 device: torch.device,
                 batch: int,
                 shape,
                 amp: bool = False):
        torch.manual_seed(0)
        self.setting, self.name, self.device, self.amp = setting, name, device, amp
        self.model = build(setting, name).to(device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optim = make_optim_wrapper(setting, params, device, amp)
        self.data = make_batch(setting, batch, shape)
        if setting == 'det-backbone':
            self.data = self.data.to(device)
        # Inference under autocast with --amp, except full detectors (mmcv ops, see above).
        self.infer_amp = amp and setting != 'det'
        self.train_times: List[float] = []
        self.infer_times: List[float] = []
        self.peak_mem: Optional[int] = None

    def _backbone_loss(self) -> torch.Tensor:
        with self.optim.optim_context(self.model):
            outs = self.model(self.data)
            return sum(o.float().mean() for o in outs)

    def train_step(self):
        """A training step: data preprocessor (not for det-backbone), forward,
        loss, backward, SGD step, ``zero_grad``."""
        self.model.train()
        if self.setting == 'det-backbone':
            self.optim.update_params(self._backbone_loss())
        else:
            self.model.train_step(self.data, self.optim)

    def profile_step(self):
        """The step ``--profile`` counts: :meth:`train_step`, except for
        det-backbone, forward + loss + backward with gradients accumulating
        (the step of the 2026-11-26 GPU table, gpu_check.py part 10)."""
        if self.setting == 'det-backbone':
            self.model.train()
            self._backbone_loss().backward()
        else:
            self.train_step()

    @torch.no_grad()
    def infer_step(self):
        self.model.eval()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.infer_amp):
            if self.setting == 'det-backbone':
                self.model(self.data)
            else:
                self.model.test_step(self.data)

    def timed(self, fn: Callable, steps: int) -> float:
        """Seconds per call of ``fn``, over ``steps`` calls. CUDA: CUDA events
        around the calls, the device synchronised before and after."""
        if self.device.type == 'cuda':
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(self.device)
            start.record()
            for _ in range(steps):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3 / steps
        sync(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        sync(self.device)
        return (time.perf_counter() - start) / steps

    def measure_memory(self) -> int:
        import gc
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(self.device)
            before = torch.cuda.memory_allocated(self.device)
            self.train_step()
            sync(self.device)
            self.peak_mem = torch.cuda.max_memory_allocated(self.device) - before
        else:
            with PeakRSS() as rss:
                self.train_step()
            self.peak_mem = rss.delta
        return self.peak_mem


def setting_spec(setting: str,
                 device: torch.device,
                 batch: Optional[int] = None,
                 shape: Optional[Tuple[int, int]] = None) -> dict:
    """Batch, shape, rounds, steps, warm-up and models of ``setting`` on
    ``device`` (CUDA: per-GPU batches), with ``batch``/``shape`` overrides."""
    spec = dict((SETTINGS_CUDA if device.type == 'cuda' else SETTINGS)[setting])
    if batch is not None:
        spec['batch'] = batch
    if shape is not None:
        spec['shape'] = tuple(shape)
    return spec


def run_setting(setting: str,
                names: List[str],
                rounds: int,
                steps: int,
                warmup: int,
                device: torch.device,
                amp: bool = False,
                spec: Optional[dict] = None) -> Dict:
    spec = spec or setting_spec(setting, device)
    h, w = spec['shape']
    print(
        f'== {setting}: batch {spec["batch"]}, {h}x{w}, {"bf16 AMP" if amp else "fp32"}, '
        f'{rounds} round(s) x {steps} step(s), warm-up {warmup}, models {names}',
        flush=True)
    cands = []
    for name in names:
        start = time.time()
        cands.append(Candidate(setting, name, device, spec['batch'], spec['shape'], amp))
        print(f'[{setting}] built {name} ({time.time() - start:.1f} s)', flush=True)
    for c in cands:
        start = time.time()
        for _ in range(warmup):
            c.train_step()
        c.infer_step()
        mem = c.measure_memory()
        print(
            f'[{setting}] warm-up {c.name}: {time.time() - start:.1f} s; peak memory of a '
            f'training step {mem / 2**20:.0f} MiB',
            flush=True)
    for r in range(rounds):
        for c in cands:
            c.train_times.append(c.timed(c.train_step, steps))
            c.infer_times.append(c.timed(c.infer_step, steps))
            print(
                f'[{setting} round {r + 1}/{rounds}] {c.name:<13} train '
                f'{c.train_times[-1]:.3f} s/step, inference {c.infer_times[-1]:.3f} s/batch',
                flush=True)
    results = {}
    for c in cands:
        results[c.name] = dict(
            train_s=statistics.median(c.train_times),
            infer_s=statistics.median(c.infer_times),
            peak_mem_mib=c.peak_mem / 2**20,
            train_times=c.train_times,
            infer_times=c.infer_times)
    if 'plain' in results:
        base = results['plain']
        for r in results.values():
            r['train_ratio'] = r['train_s'] / base['train_s']
            r['infer_ratio'] = r['infer_s'] / base['infer_s']
            r['mem_ratio'] = (
                r['peak_mem_mib'] / base['peak_mem_mib'] if base['peak_mem_mib'] > 0 else None)
    del cands
    return dict(
        batch=spec['batch'],
        shape=[h, w],
        rounds=rounds,
        steps=steps,
        warmup=warmup,
        device=device.type,
        amp=amp,
        models=results)


def format_results(setting: str, res: Dict) -> str:
    cuda = res.get('device') == 'cuda'
    unit, scale, fmt = ('ms', 1e3, '.2f') if cuda else ('s', 1, '.3f')
    lines = [
        f'{setting}: batch {res["batch"]}, {res["shape"][0]}x{res["shape"][1]}'
        f'{", bf16 AMP" if res.get("amp") else ""}{", cuda" if cuda else ""} (medians '
        f'of {res["rounds"]} rounds)',
        f'{"model":<14}{"train " + unit:>9}{"ratio":>7}{"infer " + unit:>9}{"ratio":>7}'
        f'{"peak MiB":>10}{"ratio":>7}'
    ]
    for name, r in res['models'].items():

        def ratio(key):
            return f'{r[key]:.3f}' if r.get(key) is not None else '-'

        lines.append(f'{name:<14}{r["train_s"] * scale:>9{fmt}}{ratio("train_ratio"):>7}'
                     f'{r["infer_s"] * scale:>9{fmt}}{ratio("infer_ratio"):>7}'
                     f'{r["peak_mem_mib"]:>10.0f}{ratio("mem_ratio"):>7}')
    default = res['models'].get(DEFAULT_BA2M[setting])
    if default and 'train_ratio' in default:
        goal = (GOALS_CUDA if cuda else GOALS)[setting]
        lines.append(f'goals ({DEFAULT_BA2M[setting]} / plain): train <= {goal["train"]} '
                     f'(measured {default["train_ratio"]:.3f}, '
                     f'{"met" if default["train_ratio"] <= goal["train"] else "NOT met"}), '
                     f'inference <= {goal["infer"]} (measured {default["infer_ratio"]:.3f}, '
                     f'{"met" if default["infer_ratio"] <= goal["infer"] else "NOT met"})')
    return '\n'.join(lines)


def plot(results: Dict, out: str):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    settings = [s for s in results if 'plain' in results[s]['models']]
    metrics = (('train_ratio', 'training step'), ('infer_ratio', 'inference'),
               ('mem_ratio', 'peak memory (train)'))
    fig, axes = plt.subplots(
        len(settings),
        len(metrics),
        squeeze=False,
        figsize=(4.5 * len(metrics), 3.6 * len(settings)))
    for row, setting in zip(axes, settings):
        models = results[setting]['models']
        for ax, (key, label) in zip(row, metrics):
            names = list(models)
            values = [models[n].get(key) or 0 for n in names]
            colors = [
                'tab:gray' if n == 'plain' else 'tab:red' if n.startswith('ba2m') else 'tab:blue'
                for n in names
            ]
            ax.bar(range(len(names)), values, color=colors)
            ax.set_xticks(range(len(names)), names, rotation=35, ha='right', fontsize=8)
            ax.axhline(1.0, color='k', lw=0.8)
            goals = GOALS_CUDA if results[setting].get('device') == 'cuda' else GOALS
            goal = goals[setting].get(key.split('_')[0])
            if goal:
                ax.axhline(goal, color='tab:red', ls='--', lw=0.8, label=f'goal {goal}')
                ax.legend(fontsize=7)
            ax.set_title(f'{setting}: {label} / plain', fontsize=9)
            for i, v in enumerate(values):
                ax.text(i, v, f'{v:.2f}', ha='center', va='bottom', fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- branch profile
def profile_branches(batch: int = 8, repeats: int = 7, reduction: int = 32) -> List[Dict]:
    """Forward+backward time of each BA2M branch on the ResNet-50 stage shapes
    (224x224 input), next to the full BA2M and the ResNet stage itself. A
    branch is timed as a BA2M with that branch alone (the branches share one
    input projection and one SAR node, so they cannot run apart).

    Per stage, the items are timed round-robin (``repeats`` rounds after one
    warm-up round) and the median is kept, so a load change hits all alike.
    """
    from mmpretrain.models.backbones.resnet import Bottleneck, ResLayer

    from ba2m_mm.models.layers import BA2M
    stages = [(256, 56, 3, 64), (512, 28, 4, 256), (1024, 14, 6, 512), (2048, 7, 3, 1024)]
    rows = []

    def fwd_bwd(module, x) -> float:
        x = x.detach().requires_grad_()
        start = time.perf_counter()
        module(x).float().sum().backward()
        return time.perf_counter() - start

    for i, (c, hw, blocks, in_c) in enumerate(stages, 1):
        torch.manual_seed(0)
        x = torch.randn(batch, c, hw, hw)  # stage output = BA2M input
        in_hw = hw if i == 1 else 2 * hw
        items = dict(
            stage=(ResLayer(Bottleneck, blocks, in_c, c, stride=1 if i == 1 else 2).train(),
                   torch.randn(batch, in_c, in_hw, in_hw)))
        for mode in ('exact', 'sampled'):
            ba2m = BA2M(c, reduction=reduction, gsa_mode=mode, name=f'layer{i}').train()
            items[f'ba2m_{mode}'] = (ba2m, x)
            for branch in ba2m.branches:
                key = branch if branch != 'global' else f'global_{mode}'
                if key not in items:
                    alone = BA2M(c, reduction=reduction, branches=(branch, ), gsa_mode=mode)
                    items[key] = (alone.train(), x)
        times = {key: [] for key in items}
        for r in range(repeats + 1):
            for key, (module, inputs) in items.items():
                elapsed = fwd_bwd(module, inputs)
                if r:  # round 0 is a warm-up
                    times[key].append(elapsed)
        row = dict(stage=f'layer{i}', shape=[batch, c, hw, hw])
        row.update({f'{key}_s': statistics.median(t) for key, t in times.items()})
        rows.append(row)
        print(
            f'[profile] layer{i} {tuple(x.shape)}: stage {row["stage_s"] * 1e3:.1f} ms, '
            f'BA2M exact {row["ba2m_exact_s"] * 1e3:.1f} ms / sampled '
            f'{row["ba2m_sampled_s"] * 1e3:.1f} ms; channel {row["channel_s"] * 1e3:.1f}, '
            f'local {row["local_s"] * 1e3:.1f}, global exact {row["global_exact_s"] * 1e3:.1f} '
            f'/ sampled {row["global_sampled_s"] * 1e3:.1f} ms',
            flush=True)
    return rows


def format_profile(rows: List[Dict]) -> str:
    cols = ('stage_s', 'ba2m_exact_s', 'ba2m_sampled_s', 'channel_s', 'local_s', 'global_exact_s',
            'global_sampled_s')
    head = f'{"stage":<8}{"shape":<22}' + ''.join(f'{c[:-2]:>16}' for c in cols)
    lines = ['BA2M branch profile, forward+backward, ms (median), ResNet-50 @224, R=32', head]
    for r in rows:
        lines.append(f'{r["stage"]:<8}{str(tuple(r["shape"])):<22}' + ''.join(f'{r[c] * 1e3:>16.2f}'
                                                                              for c in cols))
    total = {c: sum(r[c] for r in rows) for c in cols}
    lines.append(f'{"total":<30}' + ''.join(f'{total[c] * 1e3:>16.2f}' for c in cols))
    lines.append(f'BA2M (auto = exact at these sizes) / ResNet-50 stages (fwd+bwd): '
                 f'{total["ba2m_exact_s"] / total["stage_s"]:.3f}; sampled: '
                 f'{total["ba2m_sampled_s"] / total["stage_s"]:.3f}')
    return '\n'.join(lines)


# --------------------------------------------------------------------------- step profile
def profile_counts(events, steps: int, cuda: bool) -> Dict:
    """Per-step counts from ``prof.key_averages()`` of ``steps`` profiled steps.

    Returns:
        dict: ``aten_ops`` (events whose name starts with ``aten::``),
        ``cpu_ms`` (sum of the self CPU time of all events: the footer of
        torch's table) and, when ``cuda``: ``kernel_launches`` (runtime
        events matching :data:`LAUNCH_EVENT`, ``launch_events`` by name),
        ``kernels`` and ``gpu_kernel_ms`` (device kernel events: count and
        summed duration), ``gpu_memcpy_memset_ms``, and
        ``gpu_all_events_ms`` = sum of ``self_device_time_total`` over all
        events, the formula of ``../shared/gpu/gpu_check.py`` part 10; with
        kineto a kernel is also attached to the aten op that launched it, so
        that sum counts kernels twice. Without ``cuda`` these are None.
    """
    from torch.autograd import DeviceType
    out = dict(
        aten_ops=sum(e.count for e in events if e.key.startswith('aten::')) / steps,
        cpu_ms=sum(e.self_cpu_time_total for e in events) / steps / 1e3,
        kernel_launches=None,
        launch_events=None,
        kernels=None,
        gpu_kernel_ms=None,
        gpu_memcpy_memset_ms=None,
        gpu_all_events_ms=None)
    if not cuda:
        return out
    launches = {e.key: e.count / steps for e in events if LAUNCH_EVENT.match(e.key)}
    device = [
        e for e in events
        if e.device_type == DeviceType.CUDA and not getattr(e, 'is_user_annotation', False)
    ]
    memops = [e for e in device if e.key.startswith(('Memcpy', 'Memset'))]
    kernels = [e for e in device if not e.key.startswith(('Memcpy', 'Memset'))]
    out.update(
        kernel_launches=sum(launches.values()),
        launch_events=launches,
        kernels=sum(e.count for e in kernels) / steps,
        gpu_kernel_ms=sum(e.self_device_time_total for e in kernels) / steps / 1e3,
        gpu_memcpy_memset_ms=sum(e.self_device_time_total for e in memops) / steps / 1e3,
        gpu_all_events_ms=sum(e.self_device_time_total for e in events) / steps / 1e3)
    return out


def profile_model(c: Candidate, steps: int, warmup: int, out_dir: Optional[str] = None) -> Dict:
    """Profile :meth:`Candidate.profile_step` of one model: ``warmup`` steps,
    then ``steps`` steps under torch.profiler (CPU, plus CUDA activities on
    a GPU). Writes the top-30 operator table when ``out_dir`` is given."""
    from torch.profiler import ProfilerActivity, profile
    cuda = c.device.type == 'cuda'
    for _ in range(warmup):
        c.profile_step()
    sync(c.device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        for _ in range(steps):
            c.profile_step()
        sync(c.device)
    wall = (time.perf_counter() - start) / steps
    events = prof.key_averages()
    res = profile_counts(events, steps, cuda)
    res['wall_ms_profiled'] = wall * 1e3
    if out_dir is not None:
        sort = 'self_device_time_total' if cuda else 'self_cpu_time_total'
        path = osp.join(out_dir, f'profile_{c.setting}_{c.name}.txt')
        with open(path, 'w') as f:
            f.write(events.table(sort_by=sort, row_limit=30) + '\n')
            f.write(events.table(sort_by='count', row_limit=30) + '\n')
    return res


def run_profile(setting: str,
                names: List[str],
                steps: int,
                warmup: int,
                device: torch.device,
                amp: bool = False,
                spec: Optional[dict] = None,
                out_dir: Optional[str] = None) -> Dict:
    """:func:`profile_model` for each model of ``setting`` in turn (each
    built, profiled and freed before the next)."""
    spec = spec or setting_spec(setting, device)
    h, w = spec['shape']
    step = ('forward + loss + backward (gradients accumulate, no optimizer step)'
            if setting == 'det-backbone' else 'model.train_step (with the SGD step)')
    print(
        f'== profile {setting}: batch {spec["batch"]}, {h}x{w}, {"bf16 AMP" if amp else "fp32"}, '
        f'{device.type}; step = {step}; {warmup} warm-up + {steps} profiled step(s), '
        f'models {names}',
        flush=True)
    results = {}
    for name in names:
        start = time.time()
        c = Candidate(setting, name, device, spec['batch'], spec['shape'], amp)
        results[name] = profile_model(c, steps, warmup, out_dir)
        del c
        if device.type == 'cuda':
            torch.cuda.empty_cache()
        r = results[name]
        print(
            f'[profile {setting}] {name}: {r["aten_ops"]:.0f} aten ops, ' +
            (f'{r["kernel_launches"]:.0f} kernel launches, {r["gpu_kernel_ms"]:.2f} ms GPU '
             f'kernel time, ' if r['kernel_launches'] is not None else '') +
            f'{r["cpu_ms"]:.1f} ms CPU time per step ({time.time() - start:.1f} s)',
            flush=True)
    return dict(
        batch=spec['batch'],
        shape=[h, w],
        steps=steps,
        warmup=warmup,
        device=device.type,
        amp=amp,
        step=step,
        models=results)


PROFILE_ROWS = (('kernel_launches', 'kernel launches', '{:,.0f}'),
                ('aten_ops', 'aten ops', '{:,.0f}'), ('gpu_kernel_ms', 'GPU kernel time (ms)',
                                                      '{:.1f}'), ('cpu_ms', 'CPU time (ms)',
                                                                  '{:.1f}'))


def format_profile_steps(results: Dict) -> str:
    """Markdown table of :func:`run_profile` results, one block per setting:
    per-step measures of each model side by side, and each / plain."""
    lines = []
    for setting, res in results.items():
        names = list(res['models'])
        others = [n for n in names if n != 'plain'] if 'plain' in names else []
        h, w = res['shape']
        lines += [
            f'{setting}: {res["batch"]}x3x{h}x{w}, {res["device"]}, '
            f'{"bf16 AMP" if res["amp"] else "fp32"}; per step = {res["step"]}; mean of '
            f'{res["steps"]} profiled step(s) after {res["warmup"]} warm-up step(s)', '',
            '| per step | ' + ' | '.join(names) + ''.join(f' | {n} / plain' for n in others) + ' |',
            '|---|' + '---|' * (len(names) + len(others))
        ]
        for key, label, fmt in PROFILE_ROWS:
            values = [res['models'][n][key] for n in names]
            cells = [fmt.format(v) if v is not None else 'n/a' for v in values]
            base = res['models'].get('plain', {}).get(key)
            for n in others:
                v = res['models'][n][key]
                cells.append(f'{v / base:.2f}' if v is not None and base else 'n/a')
            lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
        launch_keys = sorted(
            {k
             for r in res['models'].values()
             for k in (r['launch_events'] or {})})
        if launch_keys:
            lines.append('')
            lines.append(f'kernel launches counted from the runtime events {launch_keys}')
        lines.append('')
    return '\n'.join(lines)


# --------------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--settings',
        nargs='+',
        choices=tuple(SETTINGS),
        help='cls: ImageClassifier R-50 224x224 (batch 8 on CPU, 32 on CUDA); det: Faster '
        'R-CNN R-50-FPN 800x1333 batch 2; det-backbone: the detection backbone alone, '
        '2x3x800x1344. Default: cls det on CPU; cls det-backbone det on CUDA (det only with '
        "mmcv's CUDA ops); det-backbone cls with --profile")
    parser.add_argument(
        '--models',
        nargs='+',
        choices=MODELS_ALL,
        help='models to compare (ratios need plain). Default: all, except ba2m-exact in det '
        '(exact global attention over the 66,800 stage-1 positions of an 800x1333 image); '
        'plain ba2m-auto in det-backbone and with --profile')
    parser.add_argument(
        '--rounds', type=int, help='interleaved rounds (default: cls 5, det 2; CUDA 10 / 5)')
    parser.add_argument(
        '--steps',
        type=int,
        help='steps timed per model and round (default: cls 3, det 1; CUDA 5 / 3); with '
        '--profile: steps profiled per model (default: CPU 2, CUDA 5)')
    parser.add_argument(
        '--warmup',
        type=int,
        help='warm-up training steps per model (default: cls 2, det 1; CUDA 5 / 3; '
        '--profile: CPU 1, CUDA 3)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device. Default: cuda if available, else cpu')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='bfloat16 mixed precision: AmpOptimWrapper (CUDA) / CPUAmpOptimWrapper (CPU), '
        'no loss scaling')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='instead of timing: kernel launches, aten ops and GPU kernel time (CPU: aten ops '
        'and CPU time) per step, plain and BA2M side by side (torch.profiler)')
    parser.add_argument(
        '--batch-size',
        type=int,
        help='override the batch of every setting (default: the per-device batch)')
    parser.add_argument(
        '--shape',
        nargs=2,
        type=int,
        metavar=('H', 'W'),
        help='override the input size of every setting (e.g. a tiny dry run)')
    parser.add_argument(
        '--out-dir',
        default=osp.join('work_dirs', 'benchmark'),
        help='where benchmark.json and benchmark.png (profile.json, profile.md) go. Default: '
        'work_dirs/benchmark')
    parser.add_argument(
        '--profile-branches',
        action='store_true',
        help='profile the BA2M branches on ResNet-50 stage shapes instead')
    args = parser.parse_args(argv)
    for key in ('rounds', 'steps'):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            parser.error(f'--{key} must be >= 1, got {getattr(args, key)}')
    if args.warmup is not None and args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    if args.profile and args.profile_branches:
        parser.error('--profile and --profile-branches are two different modes; give one')
    if args.batch_size is not None and args.batch_size < 2:
        parser.error(f'--batch-size must be >= 2 (BA2M weighs the samples of a batch; with 1 '
                     f'it does nothing), got {args.batch_size}')
    if args.shape is not None and min(args.shape) < 32:
        parser.error(f'--shape H W must be >= 32 each (ResNet-50 downsamples by 32), got '
                     f'{args.shape}')
    try:
        device = torch.device(args.device)
    except RuntimeError as e:
        parser.error(f'--device {args.device!r}: {e}')
    if device.type not in ('cpu', 'cuda'):
        parser.error(f'--device must be cpu or cuda[:N], got {args.device!r}')
    if device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: CUDA is not available to this torch '
                     f'({torch.__version__})')
    return args


def mmdet_stack(device: torch.device) -> Tuple[bool, bool, str]:
    """Whether mmdet models can be built here, and whether full detectors can
    run on ``device``.

    Returns:
        tuple: ``(mmdet_ok, det_ok, reason)``. ``mmdet_ok``: mmdet is
        installed and mmcv has its compiled ops (mmdet imports them).
        ``det_ok``: also, on CUDA, mmcv's ops were compiled with CUDA (nms
        and RoIAlign run on the GPU). ``reason`` says what is missing.
    """
    if importlib.util.find_spec('mmdet') is None:
        return False, False, 'mmdet is not installed'
    try:
        from mmcv.ops import get_compiling_cuda_version
    except (ImportError, OSError) as e:
        return False, False, (f'mmcv has no compiled ops (mmcv-lite?): {type(e).__name__}: '
                              f'{str(e)[:200]}')
    cuda_version = get_compiling_cuda_version()
    if device.type == 'cuda' and cuda_version == 'not available':
        return True, False, ("mmcv's ops were compiled without CUDA (get_compiling_cuda_version"
                             "() = 'not available'): nms/RoIAlign cannot run on the GPU")
    return True, True, f'mmcv ops compiled with CUDA {cuda_version}'


def resolve_settings(args, device: torch.device) -> Tuple[List[str], Dict[str, List[str]]]:
    """Settings and models to run. On CUDA, what needs mmdet or mmcv's CUDA ops
    is left out of the defaults with a message, and refused when asked for.

    Returns:
        tuple: settings, and ``{setting: models}``.
    """
    if args.settings:
        settings = list(dict.fromkeys(args.settings))
    elif args.profile:
        settings = list(PROFILE_SETTINGS)
    else:
        settings = ['cls', 'det-backbone', 'det'] if device.type == 'cuda' else ['cls', 'det']
    models = {}
    for setting in settings:
        if args.models:
            names = list(dict.fromkeys(args.models))
        elif args.profile:
            names = ['plain', DEFAULT_BA2M[setting]]
        else:
            names = list(SETTINGS[setting]['models'])
        if setting == 'det-backbone':
            dropped = [n for n in names if n in MMDET_PLUGIN_MODELS]
            if dropped:
                print(
                    f'det-backbone: {dropped} left out (mmdet ResNet plugins; compare them '
                    'with --settings cls or det)',
                    flush=True)
            names = [n for n in names if n not in MMDET_PLUGIN_MODELS]
        models[setting] = names
    if device.type != 'cuda':
        return settings, models
    mmdet_ok, det_ok, reason = mmdet_stack(device)
    print(f'mmdet / mmcv ops: {reason}', flush=True)
    if 'det' in settings and not det_ok:
        if args.settings:
            raise SystemExit(
                f'--settings det on {device}: the full Faster R-CNN needs mmdet and mmcv\'s CUDA '
                f'ops, and {reason}. Install mmcv with CUDA ops (FORCE_CUDA=1 bash '
                'tools/install.sh) or measure the backbone with --settings cls det-backbone.')
        print(
            f'det left out: {reason}; running backbone-level and mmpretrain settings only '
            '(det-backbone, cls)',
            flush=True)
        settings.remove('det')
        models.pop('det')
    if 'det' in settings and getattr(args, 'amp', False):
        why = ("mmcv 2.1's CUDA RoIAlign has no bfloat16 kernel (float, double, half only)")
        if args.settings:
            raise SystemExit(f'--amp with --settings det on {device}: {why}; time det in fp32, '
                             'or the backbone with --settings det-backbone --amp')
        print(f'det left out with --amp: {why}', flush=True)
        settings.remove('det')
        models.pop('det')
    for setting in settings:
        plugins = [n for n in models[setting] if n in MMDET_PLUGIN_MODELS]
        if plugins and not mmdet_ok:
            if args.models:
                raise SystemExit(f'--models {plugins}: mmdet ResNet plugins need mmdet and '
                                 f'mmcv\'s compiled ops, and {reason}')
            print(f'{setting}: {plugins} left out ({reason})', flush=True)
            models[setting] = [n for n in models[setting] if n not in plugins]
    return settings, models


def environment(device: torch.device) -> Dict:
    env = dict(device=str(device), torch=torch.__version__, threads=torch.get_num_threads())
    if device.type == 'cuda':
        env.update(
            gpu=torch.cuda.get_device_name(device),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            cudnn_benchmark=torch.backends.cudnn.benchmark,
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            tf32_cudnn=torch.backends.cudnn.allow_tf32)
    return env


def reexec_with_malloc_env():
    """Re-run this script with a fixed mmap threshold, so that freed tensors
    leave the RSS (see the module docstring). Linux/glibc CPU runs only."""
    if sys.platform != 'linux' or all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return
    env = dict(os.environ, **MALLOC_ENV)
    os.execve(sys.executable, [sys.executable, osp.abspath(__file__)] + sys.argv[1:], env)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    os.makedirs(args.out_dir, exist_ok=True)
    print(
        f'torch {torch.__version__}, device {device}'
        f'{" (" + torch.cuda.get_device_name(device) + ")" if device.type == "cuda" else ""}, '
        f'{torch.get_num_threads()} threads{", bf16 AMP" if args.amp else ""}',
        flush=True)
    if args.profile_branches:
        rows = profile_branches()
        print(format_profile(rows))
        out = osp.join(args.out_dir, 'ba2m_branch_profile.json')
        with open(out, 'w') as f:
            json.dump(rows, f, indent=1)
        print(f'wrote {out}')
        return rows
    settings, models = resolve_settings(args, device)
    results = {}
    if args.profile:
        json_out = osp.join(args.out_dir, 'profile.json')
        md_out = osp.join(args.out_dir, 'profile.md')
        defaults = PROFILE_STEPS['cuda' if device.type == 'cuda' else 'cpu']
        for setting in settings:
            spec = setting_spec(setting, device, args.batch_size, args.shape)
            results[setting] = run_profile(
                setting,
                models[setting],
                args.steps or defaults['steps'],
                defaults['warmup'] if args.warmup is None else args.warmup,
                device,
                amp=args.amp,
                spec=spec,
                out_dir=args.out_dir)
            with open(json_out, 'w') as f:  # after each setting: nothing lost if interrupted
                json.dump(dict(environment(device), results=results), f, indent=1)
            table = format_profile_steps(results)
            with open(md_out, 'w') as f:
                f.write(table)
        print(table, flush=True)
        print(f'wrote {json_out}, {md_out} and the operator tables '
              f'{osp.join(args.out_dir, "profile_<setting>_<model>.txt")}')
        return results
    json_out = osp.join(args.out_dir, 'benchmark.json')
    for setting in settings:
        spec = setting_spec(setting, device, args.batch_size, args.shape)
        names = models[setting]
        if args.models is None and setting == 'det':
            print(
                'det: ba2m-exact is not run by default (exact global attention over the 66,800 '
                'stage-1 positions: O((HW)^2) time, and on CPU O((HW)^2) memory when SDPA falls '
                'back to its math kernel); add it with --models',
                flush=True)
        results[setting] = run_setting(
            setting,
            names,
            args.rounds or spec['rounds'],
            args.steps or spec['steps'],
            spec['warmup'] if args.warmup is None else args.warmup,
            device,
            amp=args.amp,
            spec=spec)
        print(format_results(setting, results[setting]), flush=True)
        with open(json_out, 'w') as f:  # after each setting: nothing lost if interrupted
            json.dump(dict(environment(device), results=results), f, indent=1)
    png = osp.join(args.out_dir, 'benchmark.png')
    plot(results, png)
    print(f'wrote {json_out} and {png}')
    return results


if __name__ == '__main__':
    if '--device' not in ' '.join(sys.argv) or 'cpu' in sys.argv:
        reexec_with_malloc_env()
    main()
