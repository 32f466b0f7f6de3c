"""Markdown and JSON reports of a comparison (:class:`~.experiment.Comparison`)."""
import json
import math
import os.path as osp
from typing import Dict, List

from .statistics import is_finite


def _decimals(value: float) -> int:
    """2 decimals, 3 below 1 in magnitude (accuracies in %, mAPs in [0, 1])."""
    return 3 if abs(value) < 1 else 2


def _num(value, fmt: str = None) -> str:
    """``value`` in ``fmt`` (default: :func:`_decimals`); ``-`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    if fmt is None:
        fmt = f'.{_decimals(value)}f'
    return f'{value:{fmt}}'


def mean_std(stats: Dict, fmt: str = None) -> str:
    """``mean ± std`` (just the mean with one value; ``-`` with none)."""
    if math.isnan(stats['mean']):
        return '-'
    if math.isnan(stats['std']):
        return _num(stats['mean'], fmt)
    if fmt is None:  # the std to the mean's decimals
        fmt = f'.{_decimals(stats["mean"])}f'
    return f'{stats["mean"]:{fmt}} ± {stats["std"]:{fmt}}'


def _group(row: Dict) -> List[str]:
    return [] if row['group'] is None else [str(row['group'])]


def _diverged(count: int) -> str:
    return f' (+{count} diverged)' if count else ''


def _seeds(row: Dict, metrics: List[str]) -> str:
    """Seeds of a summary row: ``5``, or ``4 (+1 diverged)`` where a seed's
    metric is not finite (the most over ``metrics``; reports written before
    ``diverged`` existed count none)."""
    diverged = max([row['metrics'][m].get('diverged', 0) for m in metrics] or [0])
    return f'{len(row["seeds"]) - diverged}{_diverged(diverged)}'


def format_summary(rows: List[Dict], metrics: List[str], group_name: str = 'group') -> str:
    """Per arm: each metric as mean ± std (median) over seeds, the train step
    time as a ratio to the reference's, and per BA2M stage the std of the batch
    weights over the last 10% of the iterations, 2 significant digits (the JSON also holds the step
    time in seconds and the mean over training). A seed
    whose metric is not finite (diverged) is out of the statistics and counted
    in the seeds column: ``4 (+1 diverged)``."""
    grouped = any(r['group'] is not None for r in rows)
    stages = sorted({s for r in rows for s in r['weight_spread']})
    header = ([group_name] if grouped else []) + ['arm', 'seeds']
    for m in metrics:
        header.append(f'{m}: mean ± std (median)')
    header += ['step x ref'] + (['w std, last 10% (' + ' / '.join(stages) + ')'] if stages else [])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for r in rows:
        cells = (_group(r) if grouped else []) + [r['label'], _seeds(r, metrics)]
        for m in metrics:
            stats = r['metrics'][m]
            cells.append(
                mean_std(stats) + (f' ({_num(stats["median"])})' if stats.get('n', 0) > 1 else ''))
        cells.append(_num(r['step_ratio'], '.2f'))
        if stages:
            spread = [r['weight_spread'].get(s) for s in stages]
            last = [w['w_std_last']['mean'] if w else None for w in spread]
            cells.append(' / '.join(_num(v, '.2g') for v in last) if any(spread) else '-')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_differences(diffs: List[Dict], metric: str, group_name: str = 'group') -> str:
    """Paired differences (arm - reference) per seed, their mean, 95%
    interval (Student t), median and the number of seeds the arm wins. A seed
    where either run diverged (a non-finite metric) is listed as
    ``3: diverged (arm)`` and counted after the wins: ``2/3 (+1 diverged)``."""
    grouped = any(d['group'] is not None for d in diffs)
    header = ([group_name] if grouped else []) + [
        f'{metric}: arm - reference', 'per seed', 'mean', '95% interval', 'median', 'wins'
    ]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    # one precision for the table: 2 decimals, 3 where every difference is below 1
    values = [abs(v) for d in diffs for v in d['per_seed'].values() if is_finite(v)]
    fmt = '+.2f' if any(v >= 1 for v in values) else '+.3f'
    for d in diffs:
        diverged = d.get('diverged_seeds') or {}  # {seed: side}; none in older reports
        cells = {int(s): f'{s}: {v:{fmt}}' for s, v in d['per_seed'].items()}
        cells.update({int(s): f'{s}: diverged ({side})' for s, side in diverged.items()})
        per_seed = ', '.join(cells[s] for s in sorted(cells))
        low, high = d['ci']
        cells = (_group(d) if grouped else []) + [
            f'{d["label"]} - {d["reference"]}', per_seed,
            _num(d['mean'], fmt), f'[{_num(low, fmt)}, {_num(high, fmt)}]',
            _num(d['median'], fmt), f'{d["wins"]}/{d["n"]}{_diverged(len(diverged))}'
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _metric(metrics: Dict, name: str) -> str:
    if name in metrics and not is_finite(metrics[name]):
        return 'diverged'
    return _num(metrics.get(name, float('nan')))


def format_runs(results: List[Dict], metrics: List[str], group_name: str = 'group') -> str:
    """One row per run: metrics (``diverged`` where one is NaN or infinite,
    ``-`` where the run has none), train and evaluation time, iterations."""
    grouped = any(r['group'] is not None for r in results)
    header = ([group_name] if grouped else
              []) + ['arm', 'seed'] + list(metrics) + ['train (s)', 'eval (s)', 'iters']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for r in results:
        cells = (_group(r) if grouped else []) + [r['label'], str(r['seed'])]
        cells += [_metric(r['metrics'], m) for m in metrics]
        cells += [f'{r["train_time"]:.0f}', f'{r["eval_time"]:.0f}', str(r['iters'])]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_report(report: Dict) -> str:
    """The markdown report: header, summary, paired differences, all runs."""
    metrics, group_name = report['metrics'], report.get('group_name', 'group')
    parts = [report['header'], '']
    if report['summary']:
        parts += [
            f'Evaluated once after training, by the {report["evaluate"]} loop. Mean ± '
            'sample std (n - 1) and '
            'median over seeds; step x ref: training time per iteration against the '
            f'reference arm ({report["reference"]}); w std: standard deviation of the BA2M '
            'batch weights per stage over the last 10% of training. A seed whose '
            'metric is NaN or infinite (diverged) is left out of the statistics and counted as '
            '"+k diverged", here and in the paired differences.', '',
            format_summary(report['summary'], metrics, group_name), ''
        ]
    if report['differences']:
        parts += [
            'Paired by seed (the same seed gives every arm the same data order and, for the '
            'layers the arms share, the same initial weights: added modules draw from a '
            'generator of their own):', '',
            format_differences(report['differences'], report['metric'], group_name), ''
        ]
    if report.get('step_ratios'):
        parts += [format_step_ratios(report['step_ratios'], report['reference']), '']
    parts += ['All runs:', '', format_runs(report['results'], metrics, group_name), '']
    return '\n'.join(parts)


def format_step_ratios(ratios: Dict, reference: str) -> str:
    """Training-step time against the reference, measured side by side in one
    process (median over the timed steps)."""
    lines = [
        f'Training step, side by side with {reference} in one process (median):', '',
        f'| arm | step (s) | {reference} step (s) | ratio |', '|---|---|---|---|'
    ]
    for name, r in ratios.items():
        lines.append(f'| {name} | {r["time"]:.3f} | {r["reference_time"]:.3f} | '
                     f'{r["ratio"]:.2f} |')
    return '\n'.join(lines)


def write_report(json_path: str, report: Dict) -> str:
    """Write the JSON report and, beside it, its markdown (returns that path)."""
    with open(json_path, 'w') as f:
        json.dump(report, f, indent=2)
    md = osp.splitext(json_path)[0] + '.md'
    with open(md, 'w') as f:
        f.write(format_report(report))
    return md
