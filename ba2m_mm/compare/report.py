"""Markdown and JSON reports of a comparison (:class:`~.experiment.Comparison`)."""
import json
import math
import os.path as osp
from typing import Dict, List

from .statistics import is_finite


def _num(value, fmt: str = '.4f') -> str:
    return '-' if value is None or (isinstance(value, float) and math.isnan(value)) else \
        f'{value:{fmt}}'


def mean_std(stats: Dict, fmt: str = '.4f') -> str:
    """``mean ± std`` (just the mean with one value; ``-`` with none)."""
    if math.isnan(stats['mean']):
        return '-'
    if math.isnan(stats['std']):
        return _num(stats['mean'], fmt)
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
    """Per arm: each metric as mean ± std and median over seeds, the train step
    time and its ratio to the reference, and per BA2M stage the std of the
    batch weights (mean over training / last 10% of the iterations). A seed
    whose metric is not finite (diverged) is out of the statistics and counted
    in the seeds column: ``4 (+1 diverged)``."""
    grouped = any(r['group'] is not None for r in rows)
    stages = sorted({s for r in rows for s in r['weight_spread']})
    header = ([group_name] if grouped else []) + ['arm', 'seeds']
    for m in metrics:
        header += [f'{m} mean ± std', f'{m} median']
    header += ['step (s)', 'x ref'] + [f'w std {s} (all / last)' for s in stages]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for r in rows:
        cells = (_group(r) if grouped else []) + [r['label'], _seeds(r, metrics)]
        for m in metrics:
            cells += [mean_std(r['metrics'][m]), _num(r['metrics'][m]['median'])]
        cells += [_num(r['step_time']['mean'], '.3f'), _num(r['step_ratio'], '.2f')]
        for s in stages:
            w = r['weight_spread'].get(s)
            cells.append(
                f'{_num(w["w_std"]["mean"], ".3f")} / {_num(w["w_std_last"]["mean"], ".3f")}'
                if w else '-')
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
    for d in diffs:
        diverged = d.get('diverged_seeds') or {}  # {seed: side}; none in older reports
        cells = {int(s): f'{s}: {v:+.4f}' for s, v in d['per_seed'].items()}
        cells.update({int(s): f'{s}: diverged ({side})' for s, side in diverged.items()})
        per_seed = ', '.join(cells[s] for s in sorted(cells))
        low, high = d['ci']
        cells = (_group(d) if grouped else []) + [
            f'{d["label"]} - {d["reference"]}', per_seed,
            _num(d['mean'], '+.4f'), f'[{_num(low, "+.4f")}, {_num(high, "+.4f")}]',
            _num(d['median'], '+.4f'), f'{d["wins"]}/{d["n"]}{_diverged(len(diverged))}'
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
            'median over seeds; step: training time per iteration, x ref: its ratio to the '
            f'reference arm ({report["reference"]}); w std: standard deviation of the BA2M '
            'batch weights per stage, mean over training / over its last 10%. A seed whose '
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
