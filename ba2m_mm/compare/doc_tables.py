"""Tables in README.md and docs/ generated from saved comparison reports (JSON).

A generated table sits between two markers naming its report and what to show::

    <!-- table: docs/results/cifar10_test.json summary -->
    | ... |
    <!-- /table -->

``summary`` (mean ± std, median, step ratio, weight spread), ``differences`` (paired
differences with the 95% interval), ``runs`` (every run) or ``step_ratios`` (training-step
time against the reference, side by side). The report path is relative to
the repository root. :func:`update_tables` rewrites every block from its JSON, or with
``check=True`` only lists the blocks whose committed text no longer matches it, so that
documented numbers cannot drift from the tool that measured them.
"""
import json
import os.path as osp
import re
from typing import List

from .report import format_differences, format_runs, format_step_ratios, format_summary

BLOCK = re.compile(
    r'(<!-- table: (?P<path>\S+) (?P<kind>summary|differences|runs|step_ratios) -->\n)'
    r'(?P<body>.*?)(<!-- /table -->)', re.S)


def render_table(report_path: str, kind: str) -> str:
    """The markdown table ``kind`` of the JSON report at ``report_path``."""
    with open(report_path) as f:
        report = json.load(f)
    group_name = report.get('group_name', 'group')
    if kind == 'summary':
        return format_summary(report['summary'], report['metrics'], group_name)
    if kind == 'differences':
        return format_differences(report['differences'], report['metric'], group_name)
    if kind == 'runs':
        return format_runs(report['results'], report['metrics'], group_name)
    if kind == 'step_ratios':
        return format_step_ratios(report['step_ratios'], report['reference'])
    raise ValueError(f'kind must be summary, differences, runs or step_ratios, got {kind!r}')


def update_tables(md_path: str, root: str, check: bool = False) -> List[str]:
    """Regenerate the table blocks of ``md_path`` from their reports.

    Args:
        md_path (str): A markdown file.
        root (str): Folder the report paths are relative to (the repository).
        check (bool): Only compare; do not write. Defaults to False.

    Returns:
        list[str]: ``'<report> <kind>'`` of every block whose text differed.
    """
    with open(md_path) as f:
        text = f.read()
    stale = []

    def replace(match):
        report = osp.join(root, match['path'])
        if not osp.isfile(report):
            raise FileNotFoundError(f'{md_path}: table block names {match["path"]!r}, which '
                                    f'does not exist under {root!r}')
        table = render_table(report, match['kind']) + '\n'
        if table != match['body']:
            stale.append(f'{match["path"]} {match["kind"]}')
        return match.group(1) + table + match.group(5)

    new = BLOCK.sub(replace, text)
    if stale and not check:
        with open(md_path, 'w') as f:
            f.write(new)
    return stale
