"""Read the BA2M statistics that ``BA2MWeightHook`` logs, group them by stage, smooth them.

``BA2MWeightHook`` sends ``ba2m/<name>/<stat>`` scalars (``w_min``, ``w_max``, ``w_std``,
``entropy``, ``entropy_norm`` and ``share_<branch>``) to the visualizer; mmengine's
``LocalVisBackend`` appends them, one JSON object a line with its ``step``, to
``<work_dir>/<timestamp>/vis_data/scalars.json``.
"""
import json
import os.path as osp
import re
from collections import defaultdict
from glob import glob
from typing import Dict, List, Sequence, Tuple, Union

# {name: {stat: [(step, value), ...]}}
Series = Dict[str, Dict[str, List[Tuple[int, float]]]]

KEY = re.compile(r'^(?:train/)?ba2m/(?P<name>.+)/(?P<stat>[^/]+)$')


def find_scalar_files(path: str) -> List[str]:
    """JSON scalar files of a work dir, a run dir (``<timestamp>``) or a file.

    Args:
        path (str): A work dir, one of its ``<timestamp>`` run dirs or a JSON file.

    Returns:
        list[str]: ``vis_data/scalars.json`` files first, newest run first, then the
        LoggerHook JSON logs ``vis_data/<timestamp>.json``.
    """
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path!r} is neither a directory nor a file')
    candidates = sorted(
        glob(osp.join(path, 'vis_data', '*.json')) +
        glob(osp.join(path, '*', 'vis_data', '*.json')),
        key=osp.getmtime,
        reverse=True)
    candidates.sort(key=lambda f: osp.basename(f) != 'scalars.json')  # stable: newest first
    return candidates


def read_ba2m_scalars(file: str) -> Series:
    """The ``ba2m/<name>/<stat>`` scalars of one JSON-lines file, sorted by step."""
    series = defaultdict(lambda: defaultdict(list))
    with open(file) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            step = record.get('step', record.get('iter'))
            for key, value in record.items():
                match = KEY.match(key)
                if match and step is not None and isinstance(value, (int, float)):
                    series[match['name']][match['stat']].append((int(step), float(value)))
    return {
        name: {
            stat: sorted(points)
            for stat, points in stats.items()
        }
        for name, stats in series.items()
    }


def load_ba2m_scalars(path: str) -> Tuple[Series, str]:
    """Read the BA2M scalars of a run.

    Args:
        path (str): Work dir, run dir (``<timestamp>``) or JSON scalar file. In a work
            dir, the newest run that has BA2M scalars is read.

    Returns:
        tuple[dict, str]: ``{name: {stat: [(step, value), ...]}}`` and the file read.

    Raises:
        FileNotFoundError: No file under ``path`` has BA2M scalars.
    """
    files = find_scalar_files(path)
    for file in files:
        series = read_ba2m_scalars(file)
        if series:
            return series, file
    raise FileNotFoundError(
        f'no BA2M weight scalars (keys "ba2m/<name>/<stat>") in {path!r} (looked at '
        f'{files or "no vis_data/*.json file"}). Train with '
        "custom_hooks=[dict(type='BA2MWeightHook', interval=...)] and the default "
        'LocalVisBackend.')


def stage_of(name: str) -> str:
    """The stage a BA2M module belongs to: ``'layer2'`` for ``'layer2'`` and ``'layer2.1'``."""
    return name.split('.')[0]


def by_stage(series: Series, stat: str) -> Dict[str, List[Tuple[int, float]]]:
    """One ``stat`` series per stage, sorted by stage name.

    A stage with several BA2M modules (``position='inside'``: one per block) gets, at
    each step, the mean over its modules that logged that step.

    Args:
        series (dict): ``{name: {stat: [(step, value), ...]}}``.
        stat (str): The statistic, e.g. ``'w_std'`` or ``'share_local'``.

    Returns:
        dict[str, list[tuple[int, float]]]: ``{stage: [(step, value), ...]}``; stages
        without ``stat`` are left out.
    """
    grouped = defaultdict(lambda: defaultdict(list))
    for name, stats in series.items():
        for step, value in stats.get(stat, []):
            grouped[stage_of(name)][step].append(value)
    return {
        stage: [(step, sum(values) / len(values)) for step, values in sorted(steps.items())]
        for stage, steps in sorted(grouped.items())
    }


def ema(values: Sequence[float], smoothing: float = 0.9) -> List[float]:
    """Exponential moving average: ``s[0] = v[0]``, ``s[t] = a s[t-1] + (1 - a) v[t]``.

    Args:
        values (Sequence[float]): The raw series.
        smoothing (float): ``a`` in [0, 1); 0 returns the series unchanged, 0.9 averages
            over about the last 19 points. Defaults to 0.9.

    Returns:
        list[float]: The smoothed series, as long as ``values``.
    """
    if not 0 <= smoothing < 1:
        raise ValueError(f'smoothing must be in [0, 1), got {smoothing!r}')
    out: List[float] = []
    for value in values:
        out.append(value if not out else smoothing * out[-1] + (1 - smoothing) * value)
    return out


def branch_names(series: Union[Series, Dict[str, Dict]]) -> List[str]:
    """The branches with a ``share_<branch>`` statistic, in the paper's order."""
    found = {
        stat[len('share_'):]
        for stats in series.values()
        for stat in stats if stat.startswith('share_')
    }
    order = ('channel', 'local', 'global')
    return [b for b in order if b in found] + sorted(found - set(order))
