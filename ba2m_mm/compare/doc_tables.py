"""Tables and text in README.md and docs/ generated from the committed reports (JSON).

A generated table sits between two markers naming its report and what to show::

    <!-- table: docs/results/cifar10_test.json summary -->
    | ... |
    <!-- /table -->

``summary`` (mean ± std, median, step ratio, weight spread), ``differences`` (paired
differences with the 95% interval), ``runs`` (every run) or ``step_ratios`` (training-step
time against the reference, side by side). The report path is relative to
the repository root. Blocks rendered from the lists of :mod:`ba2m_mm.compare.doc_claims`
(several reports each) name the list instead of a report: ``<!-- table: README answer -->``
(the README's answer), ``<!-- table: evidence testbeds -->`` (each testbed's question and
positive control), ``<!-- table: README zoo -->`` (the model zoo, with the metafile), and
``<!-- table: BA2M options -->`` / ``<!-- table: backbone options -->`` (arguments and
defaults read from the code, :mod:`ba2m_mm.compare.doc_options`). A figure in prose is a
value, ``<!-- value: NAME -->text<!-- /value -->``, from :data:`VALUES`.
:func:`update_tables` rewrites every block from its source, or with ``check=True`` only lists
the blocks whose committed text no longer matches it, so that documented numbers cannot drift
from the tool that measured them.
"""
import json
import math
import os.path as osp
import re
from typing import Callable, Dict, List

from . import doc_claims as claims
from .report import format_differences, format_runs, format_step_ratios, format_summary

REPORT_KINDS = ('summary', 'differences', 'runs', 'step_ratios')
BLOCK = re.compile(
    r'(<!-- table: (?P<path>\S+) (?P<kind>summary|differences|runs|step_ratios|answer|'
    r'testbeds|zoo|options|benchmark) -->\n)'
    r'(?P<body>.*?)(<!-- /table -->)', re.S)
VALUE = re.compile(r'(<!-- value: (?P<name>\S+) -->)(?P<body>.*?)(<!-- /value -->)', re.S)

METRIC_NAMES = {
    'accuracy/top1': 'top-1 %',
    'coco/bbox_mAP': 'bbox mAP',
    'coco/segm_mAP': 'segm mAP',
    'pascal_voc/mAP': 'VOC mAP',
}


def _metric(name: str, scale: float = 1.0) -> str:
    short = METRIC_NAMES.get(name, name)
    return f'{short} x {scale:g}' if scale != 1 and 'mAP' not in short else short


def _ci(d: Dict) -> str:
    low, high = d['ci']
    if not (math.isfinite(low) and math.isfinite(high)):
        return f'{d["mean"]:+.2f} (one seed: no interval)'
    return f'{d["mean"]:+.2f} [{low:+.2f}, {high:+.2f}], {d["wins"]}/{d["n"]} seeds higher'


def reads(d: Dict, control: bool) -> str:
    """What a paired difference says: gain, loss or none; for a positive control, whether
    the testbed can see a gain."""
    low, high = d['ci']
    if not (math.isfinite(low) and math.isfinite(high)):
        side = 'above' if d['mean'] > 0 else 'below'
        return f'one seed, no interval: {side} the reference'
    if low > 0:
        return 'the control shows: the testbed can see a gain' if control else '**gain**'
    if control:
        return '**the control fails**: this testbed cannot see a gain of this kind'
    return '**loss**' if high < 0 else 'no measurable difference'


def _when(stamps: List[str]) -> str:
    text = claims.dates_text(stamps)
    for change in claims.predates(stamps):
        text += f'; **ran before** {change}'
    return text


def render_answer(root: str) -> str:
    """The README's answer: one line per :data:`~ba2m_mm.compare.doc_claims.ANSWER` entry,
    then the answer in one sentence, then the cost per setting."""
    effects = [e for e in claims.ANSWER if isinstance(e, claims.Effect)]
    costs = [c for c in claims.ANSWER if isinstance(c, claims.Cost)]
    lines = [
        '| setting | what ran | comparison (paired seeds) | difference, 95% interval | reads |',
        '|---|---|---|---|---|'
    ]
    found = []
    for e in effects:
        d = claims.paired(root, e)
        verdict = reads(d, e.control)
        found.append((e, d, verdict))
        what = f'{e.what}; {d["evaluate"]} split; runs of {_when(d["stamps"])}'
        role = ' (positive control)' if e.control else ''
        lines.append(f'| {e.setting} | {what} | {d["label"]} - {d["reference_label"]}{role}, '
                     f'{_metric(d["metric"], e.scale)} | {_ci(d)} | {verdict} |')
    measured = [(e, d, v) for e, d, v in found if not e.control]
    gains = [e.setting for e, d, v in measured if v == '**gain**']
    losses = [e.setting for e, d, v in measured if v == '**loss**']
    failed = [(e, d) for e, d, v in found if e.control and not d['ci'][0] > 0]
    answer = (f'BA2M gains in {", ".join(gains)}' if gains else '**no measurable gain**')
    answer += (f' in {len(measured)} comparisons ({len(measured) - len(gains) - len(losses)} '
               f'intervals include 0, {len(losses)} below it)')
    for e, d in failed:
        answer += (f'; the positive control ({d["label"]} - {d["reference_label"]}, '
                   f'{d["mean"]:+.2f}) fails in the {e.setting}, so a null result there '
                   'cannot tell "no gain" from "cannot see one"')
    controlled = {e.setting for e in effects if e.control}
    blind = list(
        dict.fromkeys(
            e.setting.split(',')[0] for e in effects
            if not e.control and e.setting not in controlled))
    if blind:
        answer += f'; no positive control ran in the {" and the ".join(blind)}'
    lines += ['', f'**The answer:** {answer}.', '']
    lines += [
        '| cost in | training step, BA2M / plain | inference (BA2M computes nothing) | measured |',
        '|---|---|---|---|'
    ]
    for c in costs:
        r = claims.cost(root, c)
        infer = 'not timed' if r['infer'] is None else f'{r["infer"]:.2f} as timed'
        lines.append(f'| {c.label} | **{r["train"]:.2f}x** | {infer} | {r["how"]} '
                     f'(`{c.source}`) |')
    return '\n'.join(lines)


def render_testbeds(root: str) -> str:
    """Each testbed, the question it can answer and its positive control's figure."""
    lines = [
        '| testbed | the question it can answer | positive control: its figure | so |',
        '|---|---|---|---|'
    ]
    for t in claims.TESTBEDS:
        if t.control is None:
            figure, so = 'none', 'a null result here cannot be read as "no gain"'
        else:
            d = claims.paired(root, t.control)
            figure = (f'{d["label"]} - {d["reference_label"]}, {_metric(d["metric"])}: '
                      f'{_ci(d)} ({t.control.what or d["evaluate"]})')
            so = reads(d, control=True)
        lines.append(f'| [{t.name}]({t.page}) | {t.question} | {figure} | {so} |')
    return '\n'.join(lines)


def _paper(entry: Dict) -> str:
    paper = entry.get('Paper Results')
    if not paper:
        return 'not reported'
    found = re.findall(r'Table ([IVXL]+)', paper.get('Source', ''))
    table = ('Table ' if len(found) == 1 else 'Tables ') + ', '.join(found)
    rows = {k: v for k, v in paper.items() if k not in ('Source', 'Note')}
    keys = list(rows)
    skip = ('Params (M)', 'FLOPs (G)', 'Top-5 Error (%)', 'Recall (%)')
    if len(keys) == 2:
        base, ours = rows[keys[0]], rows[keys[1]]
        parts = [f'{base[m]:g} -> {ours[m]:g} {m}' for m in base if m in ours and m not in skip]
        return f'{"; ".join(parts)} ({table})'
    return '; '.join(f'{k}: ' + ', '.join(f'{v:g} {m}' for m, v in vals.items() if m not in skip)
                     for k, vals in rows.items()) + f' ({table})'


def _size(entry: Dict) -> str:
    md = entry.get('Metadata', {})
    if 'Parameters' not in md:
        return 'not measured'
    shape = md.get('FLOPs Input Shape', '')
    dims = [d.strip() for d in shape.strip('()').split(',')][1:]
    at = f'{dims[0]}^2' if len(dims) == 2 and dims[0] == dims[1] else 'x'.join(dims)
    return f'{md["Parameters"] / 1e6:.2f} M / {md["FLOPs"] / 1e9:.2f} G at {at}'


def ours(root: str, m) -> str:
    """The "ours" cell of :data:`~ba2m_mm.compare.doc_claims.ZOO`."""
    if m is None:
        return 'not trained (needs GPUs)'
    r = claims.measured(root, m)

    def fmt(stats, name):
        std = f' ± {stats["std"]:.2f}' if stats['n'] > 1 else ''
        return f'{stats["mean"]:.2f}{std} {_metric(name)}'

    text = ', '.join([fmt(r['stats'], r['metric'])] +
                     [fmt(s, name) for name, s in r['extra'].items()])
    group = f', {m.group} {r["group_name"]}' if m.group is not None else ''
    return (f'{text}; {r["evaluate"]}, {r["stats"]["n"]} seed{"s" * (r["stats"]["n"] > 1)}'
            f'{group} ([report]({m.report.replace("docs/", "docs/", 1)}))')


def render_zoo(root: str) -> str:
    """The README's model zoo: configs of :data:`~ba2m_mm.compare.doc_claims.ZOO`, the
    paper's figures and our sizes from the metafile, our results from the reports."""
    from ba2m_mm.analysis.model_index import load_metafile
    meta = {
        e['Name']: e
        for e in load_metafile(osp.join(root, 'configs', 'metafile.yml'))['Models']
    }
    lines = [
        '| config (`configs/`) | data | paper: baseline -> BA2M | params / FLOPs (deployed) '
        '| ours |', '|---|---|---|---|---|'
    ]
    for name, m in claims.ZOO:
        e = meta[name]
        data = e['Metadata'].get('Training Data', '').split(' (')[0]
        lines.append(f'| `{name}.py` | {data} | {_paper(e)} | {_size(e)} | {ours(root, m)} |')
    return '\n'.join(lines)


BENCHMARK_MODELS = {
    'plain': 'plain ResNet-50',
    'ba2m-exact': "BA2M `gsa_mode='exact'`",
    'ba2m-sampled': "BA2M `gsa_mode='sampled'`",
    'ba2m-auto': "**BA2M default (`'auto'`)**",
    'gcnet': 'GCNet (ContextBlock r16, c3-c5)',
    'attn1111': 'GeneralizedAttention (attn 1111)',
}


def render_benchmark(root: str, setting: str) -> str:
    """One setting of ``docs/benchmark.json``: time and memory of each model and its ratio
    to plain."""
    bench = claims.load(root, claims.BENCHMARK)
    s = bench['results'][setting]
    h, w = s['shape']
    lines = [
        f'{setting}: batch {s["batch"]}, {h}x{w}, {s["rounds"]} rounds x {s["steps"]} steps '
        f'after {s["warmup"]} warm-up, {bench["device"]}, {bench["threads"]} threads, '
        f'torch {bench["torch"]}:', '',
        '| model | train s/step | ratio | inference s/batch | ratio | peak MiB | ratio |',
        '|---|---|---|---|---|---|---|'
    ]
    for name, m in s['models'].items():
        lines.append(f'| {BENCHMARK_MODELS.get(name, name)} | {m["train_s"]:.3f} | '
                     f'{m["train_ratio"]:.3f} | {m["infer_s"]:.3f} | {m["infer_ratio"]:.3f} | '
                     f'{m["peak_mem_mib"]:.0f} | {m["mem_ratio"]:.3f} |')
    return '\n'.join(lines)


def _render_generated(kind: str, name: str, root: str) -> str:
    if kind == 'answer':
        return render_answer(root)
    if kind == 'testbeds':
        return render_testbeds(root)
    if kind == 'zoo':
        return render_zoo(root)
    if kind == 'benchmark':
        return render_benchmark(root, name)
    from .doc_options import render_options
    return render_options(name)


# Figures in prose: name -> function of the repository root giving the text.
VALUES: Dict[str, Callable[[str], str]] = {}


def value(name: str):

    def register(fn):
        VALUES[name] = fn
        return fn

    return register


@value('testbed_gsa_queries')
def _testbed_gsa_queries(root: str) -> str:
    """Sampled queries of ``gsa_mode='auto'`` on CPU at the testbed's N = 256, stages 1-2."""
    from ba2m_mm.models.layers import BA2M
    from ba2m_mm.models.layers.global_spatial import GlobalSpatialAttention
    ba2m = BA2M(16, reduction=4)
    gsa = next(m for m in ba2m.modules() if isinstance(m, GlobalSpatialAttention))
    return ' and '.join(str(gsa.num_queries(hw, 256)) for hw in (32 * 32, 16 * 16))


def _effect_value(effect, part: str = 'ci'):

    def fn(root):
        d = claims.paired(root, effect)
        return _ci(d) if part == 'ci' else f'{d["mean"]:+.2f}'

    return fn


VALUES['testbed_se_vs_plain'] = _effect_value(claims.TESTBEDS[0].control)
VALUES['testbed_ba2m_vs_plain'] = _effect_value(claims.ANSWER[0])
VALUES['testbed_ba2m_vs_random'] = _effect_value(claims.ANSWER[1])


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
    """Regenerate the table blocks and values of ``md_path`` from their sources.

    Args:
        md_path (str): A markdown file.
        root (str): Folder the report paths are relative to (the repository).
        check (bool): Only compare; do not write. Defaults to False.

    Returns:
        list[str]: ``'<source> <kind>'`` of every block (``'value <name>'`` of every value)
        whose text differed.
    """
    with open(md_path) as f:
        text = f.read()
    stale = []

    def replace(match):
        if match['kind'] in REPORT_KINDS:
            report = osp.join(root, match['path'])
            if not osp.isfile(report):
                raise FileNotFoundError(f'{md_path}: table block names {match["path"]!r}, '
                                        f'which does not exist under {root!r}')
            table = render_table(report, match['kind']) + '\n'
        else:
            table = _render_generated(match['kind'], match['path'], root) + '\n'
        if table != match['body']:
            stale.append(f'{match["path"]} {match["kind"]}')
        return match.group(1) + table + match.group(5)

    def replace_value(match):
        if match['name'] not in VALUES:
            raise KeyError(f'{md_path}: value {match["name"]!r} is not one of {sorted(VALUES)}')
        body = VALUES[match['name']](root)
        if body != match['body']:
            stale.append(f'value {match["name"]}')
        return match.group(1) + body + match.group(4)

    new = VALUE.sub(replace_value, BLOCK.sub(replace, text))
    if stale and not check:
        with open(md_path, 'w') as f:
            f.write(new)
    return stale


@value('paper_cifar100')
def _paper_cifar100(root: str) -> str:
    """The paper's CIFAR-100 ResNet-50 errors, from the metafile's Paper Results."""
    from ba2m_mm.analysis.model_index import load_metafile
    meta = load_metafile(osp.join(root, 'configs', 'metafile.yml'))
    entry = next(e for e in meta['Models'] if e['Name'] == 'resnet50_ba2m_8xb16_cifar100')
    rows = [v for k, v in entry['Paper Results'].items() if k not in ('Source', 'Note')]
    base, ours = rows[0]['Error (%)'], rows[1]['Error (%)']
    return f'from {base:.2f}% to {ours:.2f}% ({base - ours:.2f} points less)'


@value('testbed_plain_step_s')
def _testbed_plain_step_s(root: str) -> str:
    s = next(r for r in claims.load(root, claims.T_TEST)['summary'] if r['arm'] == 'plain')
    return f'{s["step_time"]["min"]:.2f}-{s["step_time"]["max"]:.2f}'


@value('det_step_s')
def _det_step_s(root: str) -> str:
    """Faster R-CNN R-50 training step on CPU, plain and BA2M, from docs/benchmark.json."""
    bench = claims.load(root, claims.BENCHMARK)
    models = bench['results']['det']['models']
    return (
        f'{models["plain"]["train_s"]:.1f} s (plain) and {models["ba2m-auto"]["train_s"]:.1f} s '
        f'(BA2M) on {bench["threads"]} CPU threads')


@value('gsa_budgets')
def _gsa_budgets(root: str) -> str:
    """The attention budgets of ``gsa_mode='auto'``, from the code."""
    from ba2m_mm.models.layers.global_spatial import AUTO_EXACT_MAX_ELEMENTS, AUTO_MIN_SAMPLES
    b = AUTO_EXACT_MAX_ELEMENTS
    return (f'{b["cpu"]:.3g} elements on CPU, {b["accelerator_fp32"]:.3g} on a GPU in fp32 and '
            f'{b["accelerator_half"]:.3g} in half precision; at least {AUTO_MIN_SAMPLES} queries')


@value('benchmark_note')
def _benchmark_note(root: str) -> str:
    return claims.load(root, claims.BENCHMARK)['note'].replace('`', '')


@value('metafile_entries')
def _metafile_entries(root: str) -> str:
    from ba2m_mm.analysis.model_index import load_metafile
    return str(len(load_metafile(osp.join(root, 'configs', 'metafile.yml'))['Models']))


@value('make_demo_s')
def _make_demo_s(root: str) -> str:
    return f'{claims.load(root, claims.MAKE_DEMO)["total_time"]:.0f}'
