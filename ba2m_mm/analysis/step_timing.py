"""Time a training step and an inference step of each compared model.

One process, interleaved rounds: after a warm-up, every round measures each
model in turn (so a load change on the machine hits all models alike), and the
median over rounds is kept. Training step: ``model.train_step`` (data
preprocessor, forward, loss, backward and an SGD step); inference:
``model.test_step`` in eval mode (BA2M is the identity). CUDA: CUDA events
around the steps, the device synchronised before and after.

:func:`interleaved_times` is the project's one step timer: the benchmark
(:func:`run_setting`) and the comparison tool's side-by-side step ratio
(:func:`ba2m_mm.compare.step_time.step_time_ratio`) both call it.
"""
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .benchmark_settings import setting_spec
from .comparison_models import build, make_batch
from .peak_memory import PeakRSS


def sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_calls(fn: Callable, steps: int, device: torch.device = torch.device('cpu')) -> float:
    """Seconds per call of ``fn``, over ``steps`` calls. CPU: ``time.perf_counter``
    around the calls; CUDA: CUDA events around them, the device synchronised
    before and after."""
    if device.type == 'cuda':
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        for _ in range(steps):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / steps
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / steps


def interleaved_times(arms: Sequence[Sequence[Callable]],
                      rounds: int,
                      steps: int = 1,
                      warmup_rounds: int = 0,
                      device: torch.device = torch.device('cpu'),
                      before_round: Optional[Callable[[], None]] = None,
                      after_arm: Optional[Callable[[int, int, List[float]],
                                                   None]] = None) -> List[List[list]]:
    """The step timer: ``warmup_rounds`` untimed rounds, then ``rounds`` timed
    ones; in every round each arm in turn runs each of its measures ``steps``
    times (:func:`time_calls`), so that a change of machine load hits every
    arm alike.

    Args:
        arms (Sequence[Sequence[Callable]]): For each arm (a model), its
            measures in order, e.g. ``(train_step, infer_step)``.
        rounds (int): Timed rounds.
        steps (int): Calls per measure, arm and round. Defaults to 1.
        warmup_rounds (int): Rounds run first and not timed (every measure
            called ``steps`` times). Defaults to 0.
        device (torch.device): Where the calls run (CUDA: events, synchronised).
        before_round (Callable, optional): Called at the start of every round,
            warm-up ones included (e.g. to fetch the round's batch).
        after_arm (Callable, optional): ``after_arm(round, arm, seconds)``
            after each arm of a timed round (0-based indices; ``seconds``:
            the arm's measures in this round), e.g. to print progress.

    Returns:
        list: ``times[arm][measure]``, the seconds per call of each timed round.
    """
    times = [[[] for _ in measures] for measures in arms]
    for r in range(-warmup_rounds, rounds):
        if before_round is not None:
            before_round()
        for a, measures in enumerate(arms):
            for m, fn in enumerate(measures):
                if r < 0:
                    for _ in range(steps):
                        fn()
                else:
                    times[a][m].append(time_calls(fn, steps, device))
            if r >= 0 and after_arm is not None:
                after_arm(r, a, [t[-1] for t in times[a]])
    return times


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
    """One model of one setting, with its optimiser and its fixed batch.

    ``amp``: bfloat16 autocast (:func:`make_optim_wrapper`); ``channels_last``:
    the model's 4-D parameters and buffers in the channels_last memory format,
    as ``ChannelsLastHook`` converts them in training (the inputs stay
    NCHW-contiguous; the first convolution returns a channels_last map).
    """

    def __init__(self,
                 setting: str,
                 name: str,
                 device: torch.device,
                 batch: int,
                 shape,
                 amp: bool = False,
                 channels_last: bool = False):
        torch.manual_seed(0)
        self.setting, self.name, self.device, self.amp = setting, name, device, amp
        self.channels_last = channels_last
        self.model = build(setting, name).to(device)
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
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
        """Seconds per call of ``fn``, over ``steps`` calls (:func:`time_calls`)."""
        return time_calls(fn, steps, self.device)

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


def precision_label(amp: bool, channels_last: bool = False) -> str:
    """``'fp32'``, ``'bf16 AMP'``, with ``' + channels_last'`` when it applies."""
    return ('bf16 AMP' if amp else 'fp32') + (' + channels_last' if channels_last else '')


def run_setting(setting: str,
                names: List[str],
                rounds: int,
                steps: int,
                warmup: int,
                device: torch.device,
                amp: bool = False,
                spec: Optional[dict] = None,
                channels_last: bool = False,
                infer: bool = True) -> Dict:
    """Time the training (and inference) step of each model of ``setting``:
    ``warmup`` training steps per model, the peak memory of a step, then
    ``rounds`` interleaved rounds of ``steps`` steps (:func:`interleaved_times`).

    Args:
        amp (bool): bfloat16 autocast. Defaults to False.
        channels_last (bool): The models in channels_last. Defaults to False.
        infer (bool): Also time inference and measure the peak memory of a
            training step. Defaults to True; False: training steps only
            (``infer_s``, ``peak_mem_mib`` and their ratios are None).

    Returns:
        dict: The setting's parameters and ``models``: ``{name: train_s,
        infer_s, peak_mem_mib (medians), train_times, infer_times (per round)
        and, with plain, train_ratio, infer_ratio, mem_ratio}``.
    """
    spec = spec or setting_spec(setting, device)
    h, w = spec['shape']
    print(
        f'== {setting}: batch {spec["batch"]}, {h}x{w}, {precision_label(amp, channels_last)}, '
        f'{rounds} round(s) x {steps} step(s), warm-up {warmup}, models {names}',
        flush=True)
    cands = []
    for name in names:
        start = time.time()
        cands.append(
            Candidate(setting, name, device, spec['batch'], spec['shape'], amp, channels_last))
        print(f'[{setting}] built {name} ({time.time() - start:.1f} s)', flush=True)
    for c in cands:
        start = time.time()
        for _ in range(warmup):
            c.train_step()
        if infer:
            c.infer_step()
            mem = c.measure_memory()
        print(
            f'[{setting}] warm-up {c.name}: {time.time() - start:.1f} s' +
            (f'; peak memory of a training step {mem / 2**20:.0f} MiB' if infer else ''),
            flush=True)
    timed_start = time.time()

    def progress(r: int, i: int, seconds: List[float]):
        c = cands[i]
        done, elapsed = r * len(cands) + i + 1, time.time() - timed_start
        left = elapsed / done * (rounds * len(cands) - done)
        c.train_times.append(seconds[0])
        if infer:
            c.infer_times.append(seconds[1])
        print(
            f'[{setting} round {r + 1}/{rounds}, model {i + 1}/{len(cands)}] {c.name:<13} '
            f'train {c.train_times[-1]:.3f} s/step' +
            (f', inference {c.infer_times[-1]:.3f} s/batch' if infer else '') +
            f'; {elapsed:.0f} s timed, about {left:.0f} s left in {setting}',
            flush=True)

    arms = [(c.train_step, c.infer_step) if infer else (c.train_step, ) for c in cands]
    interleaved_times(arms, rounds, steps, device=device, after_arm=progress)
    results = {}
    for c in cands:
        results[c.name] = dict(
            train_s=statistics.median(c.train_times),
            infer_s=statistics.median(c.infer_times) if infer else None,
            peak_mem_mib=c.peak_mem / 2**20 if infer else None,
            train_times=c.train_times,
            infer_times=c.infer_times)
    if 'plain' in results:
        base = results['plain']
        for r in results.values():
            r['train_ratio'] = r['train_s'] / base['train_s']
            r['infer_ratio'] = r['infer_s'] / base['infer_s'] if infer else None
            r['mem_ratio'] = None
            if infer and base['peak_mem_mib'] > 0:
                r['mem_ratio'] = r['peak_mem_mib'] / base['peak_mem_mib']
    cands.clear()  # free the models before the next setting
    return dict(
        batch=spec['batch'],
        shape=[h, w],
        rounds=rounds,
        steps=steps,
        warmup=warmup,
        device=device.type,
        amp=amp,
        channels_last=channels_last,
        models=results)
