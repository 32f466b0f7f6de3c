"""Time a training step and an inference step of each compared model.

One process, interleaved rounds: after a warm-up, every round measures each
model in turn (so a load change on the machine hits all models alike), and the
median over rounds is kept. Training step: ``model.train_step`` (data
preprocessor, forward, loss, backward and an SGD step); inference:
``model.test_step`` in eval mode (BA2M is the identity). CUDA: CUDA events
around the steps, the device synchronised before and after.
"""
import statistics
import time
from typing import Callable, Dict, List, Optional

import torch

from .benchmark_settings import setting_spec
from .comparison_models import build, make_batch
from .peak_memory import PeakRSS


def sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


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
    timed_start = time.time()
    for r in range(rounds):
        for i, c in enumerate(cands, 1):
            c.train_times.append(c.timed(c.train_step, steps))
            c.infer_times.append(c.timed(c.infer_step, steps))
            done, elapsed = r * len(cands) + i, time.time() - timed_start
            left = elapsed / done * (rounds * len(cands) - done)
            print(
                f'[{setting} round {r + 1}/{rounds}, model {i}/{len(cands)}] {c.name:<13} '
                f'train {c.train_times[-1]:.3f} s/step, inference {c.infer_times[-1]:.3f} '
                f's/batch; {elapsed:.0f} s timed, about {left:.0f} s left in {setting}',
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
