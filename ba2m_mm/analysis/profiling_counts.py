"""Per-step counts of a training step under torch.profiler: kernel launches,
``aten::`` ops, GPU kernel time (on CPU: aten ops and CPU time), plain and
BA2M side by side.

The ``det-backbone`` step profiled is forward + loss + backward with gradients
accumulating and no optimizer step; the ``cls`` and ``det`` steps are the full
``model.train_step``.
"""
import os.path as osp
import re
import time
from typing import Dict, List, Optional

import torch

from .benchmark_settings import setting_spec
from .step_timing import Candidate, precision_label, sync

# Runtime events that launch a kernel (CUPTI names; gpu_check.py counted the first three).
LAUNCH_EVENT = re.compile(r'^cu(da)?Launch(Cooperative)?Kernel')


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
                out_dir: Optional[str] = None,
                channels_last: bool = False) -> Dict:
    """:func:`profile_model` for each model of ``setting`` in turn (each
    built, profiled and freed before the next)."""
    spec = spec or setting_spec(setting, device)
    h, w = spec['shape']
    step = ('forward + loss + backward (gradients accumulate, no optimizer step)'
            if setting == 'det-backbone' else 'model.train_step (with the SGD step)')
    print(
        f'== profile {setting}: batch {spec["batch"]}, {h}x{w}, '
        f'{precision_label(amp, channels_last)}, '
        f'{device.type}; step = {step}; {warmup} warm-up + {steps} profiled step(s), '
        f'models {names}',
        flush=True)
    results = {}
    for name in names:
        start = time.time()
        c = Candidate(setting, name, device, spec['batch'], spec['shape'], amp, channels_last)
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
        channels_last=channels_last,
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
            f'{precision_label(res["amp"], res.get("channels_last", False))}; per step = '
            f'{res["step"]}; mean of '
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
