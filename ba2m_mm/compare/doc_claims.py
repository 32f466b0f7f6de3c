"""What the docs claim, as data: each line of the README's answer, each testbed's question and
positive control, each "ours" cell of the model zoo, one entry each; the text is rendered
from the committed reports by :mod:`ba2m_mm.compare.doc_tables`.

Adding a line is adding an entry, then running ``python tools/analysis/update_doc_tables.py``
(and ``python tools/analysis/update_metafile.py --no-measure`` after a :data:`ZOO` entry).
For example, for the detection testbed's reports (arm and reference are arm names of the
report; ``scale=100`` shows an mAP in [0, 1] as points; ``metric`` defaults to the report's)::

    # ANSWER: the paper's Table III, BA2M + CE against CE, and its positive control
    Effect('detection testbed, RetinaNet', 'docs/results/det_testbed_retinanet.json',
           'ba2m_ce', 'ce', scale=100, what='digits, RetinaNet R-18 from scratch'),
    Effect('detection testbed, RetinaNet', 'docs/results/det_testbed_retinanet.json',
           'focal', 'ce', scale=100, what='digits, RetinaNet R-18 from scratch', control=True),
    # a second metric of the same runs
    Effect('detection testbed, RetinaNet', 'docs/results/det_testbed_retinanet.json',
           'ba2m_ce', 'ce', metric='pascal_voc/mAP', scale=100, what='...'),
    # TESTBEDS: the question and the control that says whether the testbed can answer it
    Testbed('CIFAR-10 testbed, identity-start SE', 'does an SE that starts as the identity '
            'gain on this testbed?', 'cifar10.md',
            Effect('CIFAR-10 testbed', 'docs/results/cifar10_testbed_se_control.json',
                   'se_identity', 'plain', group='3 epochs', what='val', control=True)),

A line whose runs predate an entry of :data:`CHANGES` says so by itself. Every figure is read
from the report (``results``, ``step_ratios``) or from ``docs/benchmark.json`` when the docs
are regenerated, and ``--check`` (``tests/test_doc_tables.py``) fails when the committed text
differs.
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .statistics import paired_difference, summarize

T_TEST = 'docs/results/cifar10_testbed_test.json'
T_RANDOM = 'docs/results/cifar10_testbed_test_vs_random.json'
CPU_TEST = 'docs/results/cifar10_test.json'
DIGITS = 'docs/results/digits_demo.json'
MAKE_DEMO = 'docs/results/digits_make_demo.json'
SCHEDULE = 'docs/results/cifar10_testbed_schedule.json'
BENCHMARK = 'docs/benchmark.json'

# Changes to the code that make earlier runs incomparable with later ones: (timestamp of the
# commit, as the run folders spell it, what changed). A claim whose runs are older says so.
CHANGES = (('20261203_170348', 'the twins started from equal weights (2026-12-03)'), )


@dataclass(frozen=True)
class Effect:
    """A paired difference ``arm - reference`` on ``metric`` of a comparison report.

    Args:
        setting: What the line is about, e.g. ``'CIFAR-10 testbed'``.
        report: The comparison report, relative to the repository.
        arm, reference: Arm names of the report.
        metric: Defaults to the report's ``metric``.
        group: The report's group (e.g. images per batch); None: ungrouped.
        scale: Factor for the figures (100: mAP in [0, 1] as points).
        what: The setting in a few words (model, schedule).
        control: A positive control: it must show a gain for the testbed to see one.
        split: What was evaluated, when the report's ``evaluate`` does not say it.
    """
    setting: str
    report: str
    arm: str
    reference: str
    metric: Optional[str] = None
    group: Any = None
    scale: float = 1.0
    what: str = ''
    control: bool = False
    split: Optional[str] = None


@dataclass(frozen=True)
class Cost:
    """A training-step ratio BA2M / plain: ``docs/benchmark.json`` (``setting``, ``model``)
    or a comparison report's ``step_ratios`` (``model`` = the arm)."""
    label: str
    source: str
    model: str
    setting: Optional[str] = None


@dataclass(frozen=True)
class Testbed:
    """A testbed: the question it can answer, and the positive control that says whether it
    can (None: it has none, so a null result there cannot be read)."""
    name: str
    question: str
    page: str
    control: Optional[Effect] = None


@dataclass(frozen=True)
class Measured:
    """The "ours" cell of a config: ``arm`` (its config) in ``report``."""
    report: str
    arm: str
    group: Any = None
    scale: float = 1.0
    split: Optional[str] = None


_TESTBED = 'ResNet-18 widths 16-128, 1 epoch, N = 256'
_CPU = 'ResNet-18 widths 16-128, 160 steps on 10,240 images, N = 128'
_DIGITS = 'Mask R-CNN R-18 from scratch, 2 epochs of 600 images'
_DIGITS_VAL = 'val (150 images)'

_RETINA = 'docs/results/det_testbed_retinanet_test.json'
_FASTER = 'docs/results/det_testbed_faster_test.json'
_CONTROL = 'docs/results/det_testbed_control_val.json'
_SE_CONTROL = 'docs/results/cifar10_testbed_se_control.json'
_DET = 'R-18 half width from scratch, 200 iterations of 8 digits images'
_DET3 = f'Table III, RetinaNet {_DET}'
_DET4 = f'Table IV, Faster R-CNN {_DET}'

# The lines of the README's answer, in order.
ANSWER: Sequence = (
    Effect('detection testbed', _RETINA, 'ba2m_ce', 'focal', scale=100, what=_DET3),
    Effect('detection testbed', _RETINA, 'ba2m_ce', 'ce', scale=100, what=_DET3),
    Effect('detection testbed', _FASTER, 'ba2m', 'ohem', scale=100, what=_DET4),
    Effect('detection testbed', _FASTER, 'ba2m', 'plain', scale=100, what=_DET4),
    Effect('detection testbed', _CONTROL, 'focal', 'ce', scale=100, what=_DET, control=True),
    Effect('CIFAR-10 testbed', T_TEST, 'ba2m', 'plain', what=_TESTBED),
    Effect('CIFAR-10 testbed', T_RANDOM, 'ba2m', 'random', what=_TESTBED),
    Effect('CIFAR-10 testbed', T_TEST, 'se', 'plain', what=_TESTBED, control=True),
    Effect('CIFAR-10 CPU budget', CPU_TEST, 'ba2m', 'plain', what=_CPU),
    Effect(
        'digits demo, 2 images/batch',
        DIGITS,
        'ba2m',
        'plain',
        group=2,
        scale=100,
        what=_DIGITS,
        split=_DIGITS_VAL),
    Effect(
        'digits demo, 4 images/batch',
        DIGITS,
        'ba2m',
        'plain',
        group=4,
        scale=100,
        what=_DIGITS,
        split=_DIGITS_VAL),
    Cost('mmpretrain ResNet-50, 224^2, batch 8', BENCHMARK, 'ba2m-auto', 'cls'),
    Cost('Faster R-CNN R-50-FPN, 800x1333, batch 2', BENCHMARK, 'ba2m-auto', 'det'),
    Cost('CIFAR-10 testbed, batch 256', T_TEST, 'ba2m'),
)

TESTBEDS: Sequence[Testbed] = (
    Testbed(
        'detection testbed', 'does BA2M beat Focal loss / OHEM (paper Tables III-IV)?',
        'evidence.md',
        Effect('detection testbed', _CONTROL, 'focal', 'ce', scale=100, what=_DET, control=True)),
    Testbed(
        'CIFAR-10 testbed, identity-start SE', 'does an SE that starts as the identity '
        'help in one epoch?', 'cifar10.md',
        Effect(
            'CIFAR-10 testbed', _SE_CONTROL, 'se_identity', 'plain', what=_TESTBED, control=True)),
    Testbed(
        'CIFAR-10 testbed', 'does BA2M raise top-1 of a small ResNet-18 after one epoch, '
        'more than random reweighting of the same spread?', 'cifar10.md',
        Effect('CIFAR-10 testbed', T_TEST, 'se', 'plain', what=_TESTBED, control=True)),
    Testbed(
        'CIFAR-10 testbed, 3 and 8 epochs', 'does the SE control turn positive with a '
        'longer schedule?', 'cifar10.md',
        Effect(
            'CIFAR-10 testbed, 8 epochs',
            SCHEDULE,
            'se',
            'plain',
            group='8 epochs',
            what='val, seed 1',
            control=True)),
    Testbed('CIFAR-10 CPU budget', 'is BA2M stable at N = 128, which defaults train?',
            'cifar10.md'),
    Testbed('digits demo', 'does BA2M Mask R-CNN train end to end, and how far is it from '
            'its plain twin?', 'demo.md'),
)

# The README's model zoo: config names in order, and what we measured of each.
ZOO: Sequence[Tuple[str, Optional[Measured]]] = (
    ('resnet50_ba2m_8xb32_in1k', None),
    ('resnet101_ba2m_8xb32_in1k', None),
    ('resnet50_ba2m_8xb16_cifar100', None),
    ('resnext50_ba2m_8xb32_in1k', None),
    ('resnext101_ba2m_8xb32_in1k', None),
    ('mobilenet_v2_ba2m_8xb32_in1k', None),
    ('faster_rcnn_r50_ba2m_2x_coco', None),
    ('faster_rcnn_r101_ba2m_2x_coco', None),
    ('mask_rcnn_r50_ba2m_2x_coco', None),
    ('mask_rcnn_r101_ba2m_2x_coco', None),
    ('retinanet_r50_ba2m_2x_coco', None),
    ('faster_rcnn_x101_ba2m_2x_coco', None),
    ('faster_rcnn_r50_ba2m_1x_voc0712', None),
    ('retinanet_r50_ba2m_softmax_1x_voc0712', None),
    ('retinanet_r50_ba2m_1x_voc0712', None),
    ('resnet18_ba2m_1xb128_cifar10', None),
    ('resnet18_cifar10_testbed', Measured(T_TEST, 'plain')),
    ('resnet18_se_cifar10_testbed', Measured(T_TEST, 'se')),
    ('resnet18_ba2m_cifar10_testbed', Measured(T_TEST, 'ba2m')),
    ('resnet18_random_cifar10_testbed', Measured(T_TEST, 'random')),
    ('resnet18_cpu_cifar10', Measured(CPU_TEST, 'plain')),
    ('resnet18_ba2m_cpu_cifar10', Measured(CPU_TEST, 'ba2m')),
    ('demo_mask_rcnn_r18_plain_digits',
     Measured(DIGITS, 'plain', group=4, scale=100, split=_DIGITS_VAL)),
    ('demo_mask_rcnn_r18_ba2m_digits', Measured(MAKE_DEMO, 'ba2m', scale=100, split=_DIGITS_VAL)),
)


# --- reading the reports ----------------------------------------------------------------
def load(root: str, path: str) -> Dict:
    with open(osp.join(root, path)) as f:
        return json.load(f)


def _runs(report: Dict, arm: str, group: Any) -> List[Dict]:
    runs = [r for r in report['results'] if r['arm'] == arm and r.get('group') == group]
    if not runs:
        raise KeyError(f'{report["header"]!r}: no run of arm {arm!r} in group {group!r}')
    return runs


def label(report: Dict, arm: str) -> str:
    for a in report['arms']:
        if a['name'] == arm:
            return a.get('label') or arm
    raise KeyError(f'{report["header"]!r}: no arm {arm!r}')


def run_dates(report: Dict, arms: Sequence[str]) -> List[str]:
    """Timestamps (``YYYYMMDD_HHMMSS``) of the runs of ``arms``, from their log folders."""
    stamps = {
        osp.basename(r['log_dir'])
        for r in report['results'] if r['arm'] in arms and r.get('log_dir')
    }
    return sorted(stamps)


def _day(stamp: str) -> str:
    return f'{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}'


def dates_text(stamps: Sequence[str]) -> str:
    days = sorted({_day(s) for s in stamps})
    if not days:
        return 'unknown dates'
    return days[0] if len(days) == 1 else f'{days[0]} to {days[-1]}'


def predates(stamps: Sequence[str]) -> List[str]:
    """What changed in the code after the earliest of these runs (:data:`CHANGES`)."""
    return [what for when, what in CHANGES if stamps and min(stamps) < when]


def paired(root: str, e: Effect) -> Dict:
    """The paired difference of an :class:`Effect`, computed from the report's runs (as
    ``tools/compare.py`` computes ``differences``), scaled."""
    report = load(root, e.report)
    metric = e.metric or report['metric']

    def per_seed(arm):
        return {r['seed']: e.scale * r['metrics'][metric] for r in _runs(report, arm, e.group)}

    out = paired_difference(per_seed(e.arm), per_seed(e.reference))
    out.update(
        metric=metric,
        label=label(report, e.arm),
        reference_label=label(report, e.reference),
        evaluate=e.split or report.get('evaluate', ''),
        stamps=run_dates(report, (e.arm, e.reference)))
    return out


def measured(root: str, m: Measured) -> Dict:
    """Mean, std, n of the arm's metric (scaled) and the report's split and run dates."""
    report = load(root, m.report)
    metric = report['metric']
    runs = _runs(report, m.arm, m.group)
    stats = summarize([m.scale * r['metrics'][metric] for r in runs])
    extra = {}
    for other in report['metrics']:
        if other != metric:
            extra[other] = summarize([m.scale * r['metrics'][other] for r in runs])
    return dict(
        stats=stats,
        metric=metric,
        extra=extra,
        evaluate=m.split or report.get('evaluate', ''),
        stamps=run_dates(report, (m.arm, )),
        group=m.group,
        group_name=report.get('group_name'))


def cost(root: str, c: Cost) -> Dict:
    """``train`` (and ``infer``, from the benchmark) ratio and how it was measured."""
    data = load(root, c.source)
    if c.setting is not None:
        s = data['results'][c.setting]
        m = s['models'][c.model]
        return dict(
            train=m['train_ratio'],
            infer=m['infer_ratio'],
            how=f'median of {s["rounds"]} rounds x {s["steps"]} steps, {data["device"]}, '
            f'{data["threads"]} threads')
    r = data['step_ratios'][c.model]
    return dict(
        train=r['ratio'],
        infer=None,
        how=f'median of {r["steps"]} steps, side by side in one process')
