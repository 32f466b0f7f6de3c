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

Settings: ``cls`` = mmpretrain ImageClassifier ResNet-50, 224x224, batch 8;
``det`` = mmdet Faster R-CNN R-50-FPN, 800x1333, batch 2 (about 25 s a step
on 2 CPU cores). Models: ``plain``; ``ba2m-exact``, ``ba2m-sampled``,
``ba2m-auto`` (BA2MResNet with that ``gsa_mode``); ``gcnet`` (mmcv
ContextBlock, r16, stages c3-c5, after_conv3, as mmdet's gcnet configs) and
``attn1111`` (mmdet GeneralizedAttention as in
``empirical_attention/faster-rcnn_r50-attn1111_fpn_1x_coco.py``), both as
in-block plugins of mmdet's ResNet. ``det`` skips ``ba2m-exact`` unless asked
for with ``--models`` (exact attention over 66,800 stage-1 positions).

Results: ratios to ``plain`` printed, plus ``benchmark.json`` and
``benchmark.png`` in ``--out-dir``. ``--profile-branches`` instead times
BA2M's channel/local/global branches (forward+backward) on the four
ResNet-50 stage shapes at 224x224, batch 8.

Examples::

    python tools/analysis/benchmark.py                       # cls + det, ~25 min idle CPU
    python tools/analysis/benchmark.py --settings cls --rounds 2 --steps 1
    python tools/analysis/benchmark.py --profile-branches
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
MODELS_ALL = ('plain', 'ba2m-exact', 'ba2m-sampled', 'ba2m-auto', 'gcnet', 'attn1111')
# Goals (reported, not asserted): BA2M (default config) / plain.
GOALS = dict(cls=dict(train=1.12, infer=1.01), det=dict(train=1.15, infer=1.01))
SETTINGS = dict(
    cls=dict(batch=8, shape=(224, 224), rounds=5, steps=3, warmup=2, models=MODELS_ALL),
    det=dict(
        batch=2,
        shape=(800, 1333),
        rounds=2,
        steps=1,
        warmup=1,
        models=tuple(m for m in MODELS_ALL if m != 'ba2m-exact')),
)
DEFAULT_BA2M = dict(cls='ba2m-auto', det='ba2m-auto')
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


def build(setting: str, name: str) -> nn.Module:
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    import ba2m_mm  # noqa: F401  registers BA2MResNet
    if setting == 'cls':
        from mmpretrain.registry import MODELS
        scope, cfg = 'mmpretrain', cls_model_cfg(name)
    else:
        from mmdet.registry import MODELS
        scope, cfg = 'mmdet', det_model_cfg(name)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg)
    return revert_sync_batchnorm(model)


def make_batch(setting: str, batch: int, shape, seed: int = 0) -> dict:
    """A batch as the data pipeline would give it (uint8 images + data samples)."""
    g = torch.Generator().manual_seed(seed)
    h, w = shape
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


class Candidate:
    """One model of one setting, with its optimiser and its fixed batch."""

    def __init__(self, setting: str, name: str, device: torch.device, batch: int, shape):
        from mmengine.optim import OptimWrapper
        torch.manual_seed(0)
        self.setting, self.name, self.device = setting, name, device
        self.model = build(setting, name).to(device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        # A small lr keeps random-data training finite; the cost does not depend on it.
        self.optim = OptimWrapper(torch.optim.SGD(params, lr=1e-4, momentum=0.9))
        self.data = make_batch(setting, batch, shape)
        self.train_times: List[float] = []
        self.infer_times: List[float] = []
        self.peak_mem: Optional[int] = None

    def train_step(self):
        self.model.train()
        self.model.train_step(self.data, self.optim)

    @torch.no_grad()
    def infer_step(self):
        self.model.eval()
        self.model.test_step(self.data)

    def timed(self, fn: Callable, steps: int) -> float:
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


def run_setting(setting: str, names: List[str], rounds: int, steps: int, warmup: int,
                device: torch.device) -> Dict:
    spec = SETTINGS[setting]
    h, w = spec['shape']
    print(
        f'== {setting}: batch {spec["batch"]}, {h}x{w}, {rounds} round(s) x {steps} step(s), '
        f'warm-up {warmup}, models {names}',
        flush=True)
    cands = []
    for name in names:
        start = time.time()
        cands.append(Candidate(setting, name, device, spec['batch'], spec['shape']))
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
        models=results)


def format_results(setting: str, res: Dict) -> str:
    lines = [
        f'{setting}: batch {res["batch"]}, {res["shape"][0]}x{res["shape"][1]} (medians '
        f'of {res["rounds"]} rounds)',
        f'{"model":<14}{"train s":>9}{"ratio":>7}{"infer s":>9}{"ratio":>7}'
        f'{"peak MiB":>10}{"ratio":>7}'
    ]
    for name, r in res['models'].items():

        def ratio(key):
            return f'{r[key]:.3f}' if r.get(key) is not None else '-'

        lines.append(f'{name:<14}{r["train_s"]:>9.3f}{ratio("train_ratio"):>7}'
                     f'{r["infer_s"]:>9.3f}{ratio("infer_ratio"):>7}'
                     f'{r["peak_mem_mib"]:>10.0f}{ratio("mem_ratio"):>7}')
    default = res['models'].get(DEFAULT_BA2M[setting])
    if default and 'train_ratio' in default:
        goal = GOALS[setting]
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
            goal = GOALS[setting].get(key.split('_')[0])
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
    (224x224 input), next to the full BA2M and the ResNet stage itself.

    Per stage, the items are timed round-robin (``repeats`` rounds after one
    warm-up round) and the median is kept, so a load change hits all alike.
    """
    from mmpretrain.models.backbones.resnet import Bottleneck, ResLayer

    from ba2m_mm.models.layers import BA2M
    from ba2m_mm.models.layers.ba2m import BRANCH_MODULES
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
                items.setdefault(key, (getattr(ba2m, BRANCH_MODULES[branch]), x))
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


# --------------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--settings',
        nargs='+',
        choices=tuple(SETTINGS),
        default=['cls', 'det'],
        help='cls: ImageClassifier R-50 224x224 batch 8; det: Faster R-CNN '
        'R-50-FPN 800x1333 batch 2. Default: cls det')
    parser.add_argument(
        '--models',
        nargs='+',
        choices=MODELS_ALL,
        help='models to compare (ratios need plain). Default: all, except ba2m-exact in det '
        '(exact global attention over the 66,800 stage-1 positions of an 800x1333 image)')
    parser.add_argument('--rounds', type=int, help='interleaved rounds (default: cls 5, det 2)')
    parser.add_argument(
        '--steps', type=int, help='steps timed per model and round (default: cls 3, det 1)')
    parser.add_argument(
        '--warmup', type=int, help='warm-up training steps per model (default: cls 2, det 1)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device. Default: cuda if available, else cpu')
    parser.add_argument(
        '--out-dir',
        default=osp.join('work_dirs', 'benchmark'),
        help='where benchmark.json and benchmark.png go. Default: '
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
    return args


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
        f'torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads',
        flush=True)
    if args.profile_branches:
        rows = profile_branches()
        print(format_profile(rows))
        out = osp.join(args.out_dir, 'ba2m_branch_profile.json')
        with open(out, 'w') as f:
            json.dump(rows, f, indent=1)
        print(f'wrote {out}')
        return rows
    results = {}
    json_out = osp.join(args.out_dir, 'benchmark.json')
    for setting in args.settings:
        spec = SETTINGS[setting]
        names = list(dict.fromkeys(args.models or spec['models']))
        if args.models is None and setting == 'det':
            print(
                'det: ba2m-exact is not run by default (exact global attention over the 66,800 '
                'stage-1 positions: O((HW)^2) time, and on CPU O((HW)^2) memory when SDPA falls '
                'back to its math kernel); add it with --models',
                flush=True)
        results[setting] = run_setting(setting, names, args.rounds or spec['rounds'], args.steps
                                       or spec['steps'],
                                       spec['warmup'] if args.warmup is None else args.warmup,
                                       device)
        print(format_results(setting, results[setting]), flush=True)
        with open(json_out, 'w') as f:  # after each setting: nothing lost if interrupted
            json.dump(
                dict(
                    device=str(device),
                    torch=torch.__version__,
                    threads=torch.get_num_threads(),
                    results=results),
                f,
                indent=1)
    png = osp.join(args.out_dir, 'benchmark.png')
    plot(results, png)
    print(f'wrote {json_out} and {png}')
    return results


if __name__ == '__main__':
    if '--device' not in ' '.join(sys.argv) or 'cpu' in sys.argv:
        reexec_with_malloc_env()
    main()
