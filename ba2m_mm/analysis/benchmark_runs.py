"""A whole benchmark run: every setting in turn, the results written after each
one, so that an interrupted run keeps what it measured."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .benchmark_report import environment, format_fast_paths, format_results, plot
from .benchmark_settings import FAST_PATHS, PROFILE_STEPS, setting_spec
from .branch_profile import format_profile, profile_branches
from .profiling_counts import format_profile_steps, run_profile
from .step_timing import run_setting


def _dump_json(path: str, device: torch.device, results: Dict) -> None:
    with open(path, 'w') as f:
        json.dump(dict(environment(device), results=results), f, indent=1)


def run_branch_profile(out_dir: str) -> List[Dict]:
    """Profile the BA2M branches (:func:`~.branch_profile.profile_branches`),
    print the table and write ``ba2m_branch_profile.json`` to ``out_dir``.

    Args:
        out_dir (str): Output folder (must exist).

    Returns:
        list[dict]: One row per ResNet-50 stage.
    """
    rows = profile_branches()
    print(format_profile(rows))
    out = osp.join(out_dir, 'ba2m_branch_profile.json')
    with open(out, 'w') as f:
        json.dump(rows, f, indent=1)
    print(f'wrote {out}')
    return rows


def run_profiles(settings: Sequence[str],
                 models: Dict[str, List[str]],
                 device: torch.device,
                 out_dir: str,
                 steps: Optional[int] = None,
                 warmup: Optional[int] = None,
                 amp: bool = False,
                 batch: Optional[int] = None,
                 shape: Optional[Tuple[int, int]] = None,
                 channels_last: bool = False) -> Dict:
    """Per-step profile counts of each setting's models, plain and BA2M side by
    side; writes ``profile.json``, ``profile.md`` and the operator tables.

    Args:
        settings (Sequence[str]): Settings to profile, in order.
        models (dict): ``{setting: model names}``.
        device (torch.device): Where to run.
        out_dir (str): Output folder (must exist).
        steps (int, optional): Profiled steps per model; None: the device's
            default (:data:`~.benchmark_settings.PROFILE_STEPS`).
        warmup (int, optional): Warm-up steps; None: the device's default.
        amp (bool): bfloat16 mixed precision. Defaults to False.
        batch (int, optional): Batch override for every setting.
        shape (tuple[int, int], optional): Input (H, W) override.
        channels_last (bool): The models in channels_last. Defaults to False.

    Returns:
        dict: ``{setting: results of run_profile}``.
    """
    json_out = osp.join(out_dir, 'profile.json')
    md_out = osp.join(out_dir, 'profile.md')
    defaults = PROFILE_STEPS['cuda' if device.type == 'cuda' else 'cpu']
    results = {}
    for setting in settings:
        spec = setting_spec(setting, device, batch, shape)
        results[setting] = run_profile(
            setting,
            models[setting],
            steps or defaults['steps'],
            defaults['warmup'] if warmup is None else warmup,
            device,
            amp=amp,
            spec=spec,
            out_dir=out_dir,
            channels_last=channels_last)
        _dump_json(json_out, device, results)  # after each setting: nothing lost if interrupted
        table = format_profile_steps(results)
        with open(md_out, 'w') as f:
            f.write(table)
    print(table, flush=True)
    print(f'wrote {json_out}, {md_out} and the operator tables '
          f'{osp.join(out_dir, "profile_<setting>_<model>.txt")}')
    return results


def _counts(spec: Dict, rounds: Optional[int], steps: Optional[int],
            warmup: Optional[int]) -> Tuple[int, int, int]:
    """(rounds, steps, warmup) of a setting: the overrides, else the setting's own."""
    return (rounds or spec['rounds'], steps
            or spec['steps'], spec['warmup'] if warmup is None else warmup)


def run_timings(settings: Sequence[str],
                models: Dict[str, List[str]],
                device: torch.device,
                out_dir: str,
                rounds: Optional[int] = None,
                steps: Optional[int] = None,
                warmup: Optional[int] = None,
                amp: bool = False,
                batch: Optional[int] = None,
                shape: Optional[Tuple[int, int]] = None,
                models_asked: bool = False,
                channels_last: bool = False) -> Dict:
    """Time each setting's models (:func:`~.step_timing.run_setting`), print
    the ratio tables and write ``benchmark.json`` and ``benchmark.png``.

    Args:
        settings (Sequence[str]): Settings to time, in order.
        models (dict): ``{setting: model names}``.
        device (torch.device): Where to run.
        out_dir (str): Output folder (must exist).
        rounds (int, optional): Rounds; None: the setting's default.
        steps (int, optional): Steps per model and round; None: default.
        warmup (int, optional): Warm-up steps; None: default.
        amp (bool): bfloat16 mixed precision. Defaults to False.
        batch (int, optional): Batch override for every setting.
        shape (tuple[int, int], optional): Input (H, W) override.
        models_asked (bool): The models were chosen by the user (no note on
            what ``det`` leaves out). Defaults to False.
        channels_last (bool): The models in channels_last. Defaults to False.

    Returns:
        dict: ``{setting: results of run_setting}``.
    """
    json_out = osp.join(out_dir, 'benchmark.json')
    results = {}
    for setting in settings:
        spec = setting_spec(setting, device, batch, shape)
        if not models_asked and setting == 'det':
            print(
                'det: ba2m-exact is not run by default (exact global attention over the 66,800 '
                'stage-1 positions: O((HW)^2) time, and on CPU O((HW)^2) memory when SDPA falls '
                'back to its math kernel); add it with --models',
                flush=True)
        results[setting] = run_setting(
            setting,
            models[setting],
            *_counts(spec, rounds, steps, warmup),
            device,
            amp=amp,
            spec=spec,
            channels_last=channels_last)
        print(format_results(setting, results[setting]), flush=True)
        _dump_json(json_out, device, results)  # after each setting: nothing lost if interrupted
    png = osp.join(out_dir, 'benchmark.png')
    plot(results, png)
    print(f'wrote {json_out} and {png}')
    return results


def run_fast_paths(settings: Sequence[str],
                   models: Dict[str, List[str]],
                   device: torch.device,
                   out_dir: str,
                   modes: Sequence[str] = tuple(FAST_PATHS),
                   rounds: Optional[int] = None,
                   steps: Optional[int] = None,
                   warmup: Optional[int] = None,
                   batch: Optional[int] = None,
                   shape: Optional[Tuple[int, int]] = None) -> Dict:
    """The four-setting table (``--fast-paths``): each setting's models timed
    (training steps only, interleaved, :func:`~.step_timing.run_setting`) in
    each of ``modes`` (:data:`~.benchmark_settings.FAST_PATHS`: fp32, bf16
    autocast, each with and without channels_last), one mode after another;
    prints the table (:func:`~.benchmark_report.format_fast_paths`) and writes
    ``fast_paths.json`` and ``fast_paths.md`` after every mode.

    Args:
        settings (Sequence[str]): Settings to time, in order.
        models (dict): ``{setting: model names}`` (plain among them).
        device (torch.device): Where to run.
        out_dir (str): Output folder (must exist).
        modes (Sequence[str]): Keys of ``FAST_PATHS``. Defaults to all four.
        rounds, steps, warmup (int, optional): As :func:`run_timings`.
        batch (int, optional): Batch override for every setting.
        shape (tuple[int, int], optional): Input (H, W) override.

    Returns:
        dict: ``{setting: {mode: results of run_setting}}``.
    """
    unknown = [m for m in modes if m not in FAST_PATHS]
    if unknown:
        raise ValueError(f'fast-path modes must be among {list(FAST_PATHS)}, got {unknown}')
    json_out = osp.join(out_dir, 'fast_paths.json')
    md_out = osp.join(out_dir, 'fast_paths.md')
    threads = torch.get_num_threads()
    results: Dict[str, Dict] = {}
    tables = {}
    for setting in settings:
        spec = setting_spec(setting, device, batch, shape)
        results[setting] = {}
        for mode in modes:
            amp, channels_last = FAST_PATHS[mode]
            results[setting][mode] = run_setting(
                setting,
                models[setting],
                *_counts(spec, rounds, steps, warmup),
                device,
                amp=amp,
                spec=spec,
                channels_last=channels_last,
                infer=False)
            _dump_json(json_out, device, results)  # after each mode: nothing lost if interrupted
            tables[setting] = format_fast_paths(setting, results[setting], threads)
            with open(md_out, 'w') as f:
                f.write('\n\n'.join(tables.values()) + '\n')
        print(tables[setting], flush=True)
    print(f'wrote {json_out} and {md_out}')
    return results
