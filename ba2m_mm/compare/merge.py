"""Merging the reports of comparisons run separately (e.g. one process per seed)."""
import json
import os
from typing import Dict, Optional, Sequence

from .experiment import Arm, Comparison


def merge_reports(paths: Sequence[str],
                  out_dir: str,
                  name: str = 'comparison',
                  reference: Optional[str] = None) -> Dict:
    """Merge the JSON reports of comparisons run separately (e.g. one process
    per seed) into ``<out_dir>/<name>.json`` / ``.md``; returns the report.

    Reports must agree on the metric and the evaluated split; a run in more
    than one report (same spec) is kept once.
    """
    reports = []
    for path in paths:
        with open(path) as f:
            reports.append(json.load(f))
    for key in ('metric', 'evaluate'):
        values = {r[key] for r in reports}
        if len(values) > 1:
            raise ValueError(f'cannot merge reports with different {key}: {sorted(values)}')
    arms: Dict[str, Arm] = {}
    seeds, groups, results, seen = [], [], [], set()
    for report in reports:
        for a in report['arms']:
            arms.setdefault(a['name'], Arm(**a))
        seeds += [s for s in report['seeds'] if s not in seeds]
        groups += [g for g in report['groups'] if g not in groups]
        for r in report['results']:
            key = json.dumps(r['spec'], sort_keys=True)
            if key not in seen:
                seen.add(key)
                results.append(r)
    first = reports[0]
    comparison = Comparison(
        list(arms.values()),
        seeds,
        out_dir,
        first['metric'],
        first['metrics'],
        reference=reference or first['reference'],
        evaluate=first['evaluate'],
        groups=groups,
        group_name=first.get('group_name', 'group'),
        name=name,
        header=first['header'].split(':')[0] + f': merged from {len(paths)} reports, seeds '
        f'{seeds}, evaluated on {first["evaluate"]}')
    os.makedirs(out_dir, exist_ok=True)
    comparison.results = results
    return comparison.write()
