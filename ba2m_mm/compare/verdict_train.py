"""Training, evaluation and timing of the CIFAR-10 testbed twins outside the Runner.

The models are the testbed configs' (``configs/resnet18_*cifar10_testbed.py``), built by
:func:`~.classifier.build_classifier` (seeded, ``init_weights``), the optimizer and the
one-cycle schedule by mmengine from the same configs (only ``total_steps`` follows the
planned length). A step is the Runner's step without the Runner: forward (bf16 autocast on
CUDA, fp32 on CPU; channels_last, as ``ChannelsLastHook``), the head's loss, backward, SGD,
scheduler. The random arm's ``sigma`` follows, step by step and stage by stage, the spread
(std of the log-weights) that the BA2M run of the same seed had, as ``MatchedSpreadHook``.
"""
import contextlib
import copy
import hashlib
import logging
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config

from ba2m_mm.models.layers import BA2M, RandomBA2M
from .classifier import build_classifier
from .verdict_data import DeviceSplit

# The testbed twins of the verdict, in the order they train (random reads BA2M's spread)
ARMS = ('plain', 'se_identity', 'ba2m', 'random')
LABELS = dict(
    plain='plain', se_identity='SE, identity start', ba2m='BA2M', random="random, BA2M's spread")
REFERENCE = 'plain'
# Warm-step timing (rounds, steps per round, warm-up rounds): a few seconds on CUDA
TIMING = dict(cuda=(5, 5, 2), cpu=(2, 1, 1))
MIN_SCHEDULE = 8  # shortest one-cycle schedule (steps); a shorter run ends early in it


def autocast(device: torch.device):
    """bf16 autocast on CUDA; nothing (fp32) elsewhere."""
    if device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.bfloat16)
    return contextlib.nullcontext()


def quiet_build(cfg: Config, seed: int) -> torch.nn.Module:
    """:func:`build_classifier` without mmengine's per-parameter init log."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        return build_classifier(cfg, seed)
    finally:
        logger.setLevel(level)


def shared_fingerprint(model: torch.nn.Module, keys: Sequence[str]) -> str:
    """sha1 of the tensors ``keys`` of ``model``'s state dict (the plain twin's keys:
    the layers every arm shares), in that order."""
    state, digest = model.state_dict(), hashlib.sha1()
    for key in keys:
        digest.update(key.encode())
        digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def ba2m_modules(model: torch.nn.Module) -> List[BA2M]:
    """The model's BA2M modules (RandomBA2M included), in order."""
    return [m for m in model.modules() if isinstance(m, BA2M)]


class Run:
    """One arm and seed: the model, its optimizer and schedule, on ``device``.

    Args:
        cfg (Config): The arm's testbed config.
        seed (int): Seeds the initial weights (:func:`build_classifier`).
        device (torch.device): Where it trains.
        total_steps (int): Length of the one-cycle schedule.
        shared_keys (Sequence[str], optional): Keys for :attr:`fingerprint`.
    """

    def __init__(self,
                 cfg: Config,
                 seed: int,
                 device: torch.device,
                 total_steps: int,
                 shared_keys: Optional[Sequence[str]] = None):
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import PARAM_SCHEDULERS
        start = time.perf_counter()
        model = quiet_build(cfg, seed)
        self.shared_keys = list(shared_keys or model.state_dict())
        self.fingerprint = shared_fingerprint(model, self.shared_keys)
        self.model = model.to(device).to(memory_format=torch.channels_last)
        self.device = device
        wrapper = build_optim_wrapper(self.model, copy.deepcopy(cfg.optim_wrapper))
        self.optimizer = wrapper.optimizer
        # mmengine's OneCycleLR divides by zero below pct_start * total_steps = 2
        schedule = dict(cfg.param_scheduler[0], total_steps=max(MIN_SCHEDULE, total_steps))
        self.scheduler = PARAM_SCHEDULERS.build(dict(schedule, optimizer=wrapper))
        self.modules = ba2m_modules(self.model)
        self.names = [m.name for m in self.modules]
        self.spread: List[torch.Tensor] = []  # per step: (stages, 3) w_std, log_w_std, w_max
        self.losses: List[torch.Tensor] = []
        self.build_time = time.perf_counter() - start

    def step(self, x: torch.Tensor, y: torch.Tensor, sigma: Optional[Sequence[float]] = None):
        """One training step on ``x`` (B, 3, 32, 32) and ``y`` (B,); ``sigma`` per BA2M
        module for the random arm. Records the loss and the batch-weight spread."""
        for module, s in zip(self.modules, sigma or ()):
            module.sigma = s
        model = self.model
        with autocast(self.device):
            logits = model.head(model.extract_feat(x))  # (B, 10)
        loss = model.head.loss_module(logits.float(), y, avg_factor=y.numel())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.losses.append(loss.detach())
        if self.modules:
            w = torch.stack([m.last_weights for m in self.modules]).float()  # (stages, B)
            self.spread.append(
                torch.stack([
                    w.std(1, correction=0),
                    w.clamp_min(1e-30).log().std(1, correction=0),
                    w.amax(1)
                ], 1))  # (stages, 3)

    def spread_trace(self) -> Dict[str, List[float]]:
        """``{stage: [log_w_std per step]}`` (one host copy, at the end of the run)."""
        if not self.spread:
            return {}
        values = torch.stack(self.spread)[:, :, 1].cpu()  # (steps, stages)
        return {name: values[:, i].tolist() for i, name in enumerate(self.names)}

    def weight_spread(self, tail: float = 0.1) -> Dict:
        """Per stage, as :func:`~.run.weight_spread` reads it from the weight hook:
        ``w_std`` (mean), ``w_std_first``, ``w_std_last`` and ``log_w_std_last`` (mean of
        the last ``tail`` of the steps), ``w_max`` and ``logged``."""
        if not self.spread:
            return {}
        stats = torch.stack(self.spread).cpu()  # (steps, stages, 3)
        n = stats.shape[0]
        last = stats[-max(1, round(tail * n)):]  # (tail steps, stages, 3)
        return {
            name:
            dict(
                w_std=float(stats[:, i, 0].mean()),
                w_std_first=float(stats[0, i, 0]),
                w_std_last=float(last[:, i, 0].mean()),
                log_w_std_last=float(last[:, i, 1].mean()),
                w_max=float(stats[:, i, 2].max()),
                logged=n)
            for i, name in enumerate(self.names)
        }

    def final_loss(self) -> float:
        """Mean loss of the last 10% of the steps (NaN if any loss was not finite)."""
        losses = torch.stack(self.losses).float().cpu()  # (steps,)
        if not torch.isfinite(losses).all():
            return float('nan')
        return float(losses[-max(1, round(0.1 * losses.numel())):].mean())

    @torch.no_grad()
    def evaluate(self, data: DeviceSplit, batch: int = 1000) -> float:
        """Top-1 accuracy (%) on ``data``, in eval mode (BA2M is the identity there)."""
        model = self.model.eval()
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for start in range(0, len(data), batch):
            x, y = data.batch(start, start + batch)
            with autocast(self.device):
                logits = model.head(model.extract_feat(x))  # (b, 10)
            correct += (logits.argmax(1) == y).sum()
        model.train()
        return 100.0 * int(correct) / len(data)


def batches(n: int, batch: int, steps: int, seed: int, device: torch.device):
    """Index tensors of ``steps`` training batches: an epoch is a permutation of the ``n``
    images (the last batch smaller, as the testbed's loader); the orders come from a
    generator seeded with ``seed`` only, so every arm of a seed sees the same batches."""
    generator = torch.Generator().manual_seed(seed)
    done = 0
    while done < steps:
        order = torch.randperm(n, generator=generator).to(device)  # (n,)
        for start in range(0, n, batch):
            if done == steps:
                return
            yield order[start:start + batch]
            done += 1


def train(run: Run,
          data: DeviceSplit,
          batch: int,
          steps: int,
          seed: int,
          deadline: float,
          sigma_trace: Optional[Dict[str, List[float]]] = None) -> int:
    """Train ``run`` for ``steps`` steps, or until ``time.perf_counter()`` passes
    ``deadline``; returns the steps done. The crop and flip draws come from a device
    generator seeded with ``seed`` (the same for every arm)."""
    generator = torch.Generator(device=data.images.device).manual_seed(seed)
    done = 0
    for index in batches(len(data), batch, steps, seed, data.images.device):
        if time.perf_counter() > deadline:
            break
        x, y = data.augmented(index, generator)
        sigma = None
        if sigma_trace is not None:
            sigma = [sigma_trace[name][min(done, len(sigma_trace[name]) - 1)] for name in run.names]
        run.step(x, y, sigma)
        done += 1
    if run.device.type == 'cuda':
        torch.cuda.synchronize(run.device)
    return done


def time_arms(configs: Dict[str, Config], data: Dict[str, DeviceSplit], evaluate: str, batch: int,
              seed: int, device: torch.device) -> Dict:
    """Warm training-step time of every arm, interleaved (the project's step timer,
    :func:`~ba2m_mm.analysis.step_timing.interleaved_times`), plus each arm's build time
    and the time of one evaluation batch; rounds and steps per round: :data:`TIMING`.
    Returns per arm: ``step`` (median s), ``images_per_s``, ``build``, ``eval_batch`` (s)
    and ``eval_batch_size``."""
    rounds, steps, warmup_rounds = TIMING[device.type]
    from ..analysis.step_timing import interleaved_times, time_calls
    train_split, eval_split = data['train'], data[evaluate]
    index = torch.arange(min(batch, len(train_split)), device=device)  # (B,)
    generator = torch.Generator(device=device).manual_seed(seed)
    runs = {name: Run(cfg, seed, device, 10**6) for name, cfg in configs.items()}
    for run in runs.values():
        for module in run.modules:
            if isinstance(module, RandomBA2M):
                module.sigma = 0.05

    def stepper(run: Run) -> Callable:
        return lambda: run.step(*train_split.augmented(index, generator))

    times = interleaved_times([(stepper(r), ) for r in runs.values()], rounds, steps, warmup_rounds,
                              device)
    eval_size = min(1000, len(eval_split))
    out = {}
    for (name, run), measured in zip(runs.items(), times):
        run.evaluate(eval_split, eval_size)  # warm
        step = statistics.median(measured[0])
        out[name] = dict(
            step=step,
            images_per_s=index.numel() / step,
            build=run.build_time,
            eval_batch=time_calls(lambda r=run: _eval_batch(r, eval_split, eval_size), 2, device),
            eval_batch_size=eval_size,
            rounds=rounds,
            steps_per_round=steps)
    return out


@torch.no_grad()
def _eval_batch(run: Run, data: DeviceSplit, size: int):
    model = run.model.eval()
    x, _ = data.batch(0, size)
    with autocast(run.device):
        model.head(model.extract_feat(x))
    model.train()


__all__ = [
    'ARMS', 'LABELS', 'REFERENCE', 'Run', 'autocast', 'batches', 'train', 'time_arms',
    'ba2m_modules', 'quiet_build', 'shared_fingerprint'
]
