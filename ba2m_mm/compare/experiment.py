"""A seeded comparison of arms (configs plus cfg-options): runs, resume, report."""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config, DictAction

from ba2m_mm.checkpoint import use_atomic_checkpoints
from .report import write_report
from .run import run_config
from .statistics import paired_difference, summarize

# Weight-spread statistics per stage summarised over seeds (see run.weight_spread)
SPREAD_KEYS = ('w_std', 'w_std_first', 'w_std_last', 'log_w_std_last', 'w_max')


@dataclass
class Arm:
    """One arm: a config file plus cfg-options, under a short name."""
    name: str
    config: str
    cfg_options: Dict = field(default_factory=dict)
    label: str = ''

    def __post_init__(self):
        self.label = self.label or self.name


def parse_arm(tokens: Sequence[str]) -> Arm:
    """An :class:`Arm` from ``NAME CONFIG [KEY=VALUE ...]`` (mmengine's
    ``--cfg-options`` syntax for the options)."""
    if len(tokens) < 2:
        raise ValueError(f'--arm needs NAME CONFIG [KEY=VALUE ...], got {list(tokens)!r}')
    name, config, *options = tokens
    if not osp.isfile(config):
        raise FileNotFoundError(f'--arm {name}: config not found: {config!r}')
    parsed = {}
    for option in options:
        if '=' not in option:
            raise ValueError(f'--arm {name}: option {option!r} is not KEY=VALUE')
        key, value = option.split('=', 1)
        parsed[key] = DictAction._parse_iterable(value)
    return Arm(name, config, parsed)


def default_config(arm: Arm,
                   seed: int,
                   work_dir: str,
                   group=None,
                   cfg_options: Optional[Dict] = None) -> Config:
    """The arm's config with its options, ``cfg_options`` (every arm), the
    seed and the work dir, with crash-safe checkpoints that the safe loader
    reads (``AtomicCheckpointHook``, as ``tools/train.py``). ``group`` is not
    used (see :class:`Comparison`)."""
    cfg = Config.fromfile(arm.config)
    cfg.merge_from_dict(arm.cfg_options)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    use_atomic_checkpoints(cfg)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    return cfg


def diverged_result(metrics: Sequence[str], message: str) -> Dict:
    """The record of a run that diverged (non-finite values): NaN metrics, which
    the summaries report as diverged (never dropped silently), and the error."""
    nan = float('nan')
    return dict(
        metrics={m: nan
                 for m in metrics},
        diverged=message[:500],
        train_time=nan,
        eval_time=nan,
        iters=0,
        step_time=nan,
        weight_spread={})


class Comparison:
    """Train every arm once per seed (and group), evaluate, and report.

    Runs go seeds outermost, so an interrupted comparison has as many seeds
    for every arm. After every run the JSON and markdown reports are
    rewritten; a run already in the JSON (same arm, group, seed, config and
    options) is not run again, so an interrupted comparison resumes.

    Args:
        arms (Sequence[Arm]): The arms; the first is the reference of the
            paired differences unless ``reference`` is given.
        seeds (Sequence[int]): Seeds.
        out_dir (str): Work dirs ``<out_dir>/<arm>[_<group>]_seed<seed>`` and
            the reports ``<out_dir>/<name>.json`` / ``.md``.
        metric (str): The metric the comparison is about, e.g.
            ``'accuracy/top1'`` or ``'coco/bbox_mAP'``.
        metrics (Sequence[str]): Metrics of the tables. Defaults to
            ``(metric,)``.
        reference (str, optional): Name of the reference arm (the plain
            twin). Defaults to the last arm without BA2M, else the first.
        evaluate (str): ``'val'`` or ``'test'``. Defaults to ``'val'``.
        groups (Sequence): Settings every arm runs at (e.g. images per
            batch), handed to ``make_config``. Defaults to ``(None,)``.
        make_config (Callable): ``(arm, seed, work_dir, group) -> Config``.
            Defaults to :func:`default_config` with ``cfg_options``.
        cfg_options (dict, optional): Options for every arm.
        name (str): Report file name. Defaults to ``'comparison'``.
        header (str): First line of the report.
        run (Callable): ``(cfg, evaluate) -> dict``; :func:`run_config`.
        group_name (str): Column title of the groups. Defaults to ``'group'``.
        work_dir_name (Callable, optional): ``(arm, seed, group) -> str``,
            the run's folder under ``out_dir``. Defaults to
            ``<arm>[_<group>]_seed<seed>``.
    """

    def __init__(self,
                 arms: Sequence[Arm],
                 seeds: Sequence[int],
                 out_dir: str,
                 metric: str,
                 metrics: Sequence[str] = (),
                 reference: Optional[str] = None,
                 evaluate: str = 'val',
                 groups: Sequence = (None, ),
                 make_config: Optional[Callable] = None,
                 cfg_options: Optional[Dict] = None,
                 name: str = 'comparison',
                 header: str = '',
                 run: Callable = run_config,
                 group_name: str = 'group',
                 work_dir_name: Optional[Callable] = None):
        names = [a.name for a in arms]
        if not arms or len(set(names)) != len(names):
            raise ValueError(f'arms must be a non-empty list with distinct names, got {names}')
        if not seeds or len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
            raise ValueError(f'seeds must be distinct integers >= 0, got {list(seeds)}')
        if reference is not None and reference not in names:
            raise ValueError(f'reference must be one of the arms {names}, got {reference!r}')
        self.arms, self.seeds, self.groups = list(arms), list(seeds), list(groups)
        self.out_dir, self.metric = out_dir, metric
        self.metrics = list(metrics) or [metric]
        self.reference = reference or names[0]
        self.evaluate, self.name, self.header = evaluate, name, header
        self.cfg_options = dict(cfg_options or {})
        self.make_config = make_config or (lambda arm, seed, work_dir, group: default_config(
            arm, seed, work_dir, group, self.cfg_options))
        self._run = run
        self.group_name = group_name
        self._work_dir_name = work_dir_name
        self.json_path = osp.join(out_dir, f'{name}.json')
        self.results: List[Dict] = []
        self.step_ratios: Dict[str, Dict] = {}  # add_step_ratios
        self.started = time.perf_counter()

    def plan(self) -> List[tuple]:
        """(seed, group, arm) of every run, seeds outermost."""
        return [(s, g, a) for s in self.seeds for g in self.groups for a in self.arms]

    def work_dir(self, arm: Arm, seed: int, group=None) -> str:
        if self._work_dir_name is not None:
            return osp.join(self.out_dir, self._work_dir_name(arm, seed, group))
        tag = '' if group is None else f'_{group}'
        return osp.join(self.out_dir, f'{arm.name}{tag}_seed{seed}')

    def spec(self, arm: Arm, seed: int, group=None) -> Dict:
        """What identifies a run (resume skips a finished run with the same spec)."""
        return dict(
            arm=arm.name,
            group=group,
            seed=seed,
            config=osp.relpath(arm.config),
            cfg_options={
                **arm.cfg_options,
                **self.cfg_options
            },
            evaluate=self.evaluate)

    def load_finished(self) -> None:
        """Keep the runs of an earlier, interrupted comparison with this plan."""
        if not osp.isfile(self.json_path):
            return
        with open(self.json_path) as f:
            previous = json.load(f).get('results', [])
        wanted = [json.dumps(self.spec(a, s, g), sort_keys=True) for s, g, a in self.plan()]
        self.results = [r for r in previous if json.dumps(r['spec'], sort_keys=True) in wanted]

    def is_finished(self, arm: Arm, seed: int, group=None) -> bool:
        spec = json.dumps(self.spec(arm, seed, group), sort_keys=True)
        return any(json.dumps(r['spec'], sort_keys=True) == spec for r in self.results)

    def run(self, resume: bool = True) -> Dict:
        """Run every planned run that is not finished; returns the report."""
        os.makedirs(self.out_dir, exist_ok=True)
        if resume:
            self.load_finished()
        plan = self.plan()
        for i, (seed, group, arm) in enumerate(plan, 1):
            if self.is_finished(arm, seed, group):
                print(
                    f'[compare] run {i}/{len(plan)}: {arm.name} seed {seed} '
                    f'{"" if group is None else f"group {group} "}finished earlier, kept',
                    flush=True)
                continue
            print(
                f'\n[compare] run {i}/{len(plan)}: arm {arm.name} ({arm.label}), seed {seed}'
                f'{"" if group is None else f", group {group}"}; '
                f'{time.perf_counter() - self.started:.0f} s so far',
                flush=True)
            work_dir = self.work_dir(arm, seed, group)
            cfg = self.make_config(arm, seed, work_dir, group)
            try:
                result = self._run(cfg, self.evaluate)
            except ValueError as e:  # BA2M's non-finite check: the run diverged
                if 'non-finite' not in str(e):
                    raise
                print(f'[compare] {arm.name} seed {seed} diverged: {str(e)[:200]}', flush=True)
                result = diverged_result(self.metrics, str(e))
            result.update(
                spec=self.spec(arm, seed, group),
                arm=arm.name,
                label=arm.label,
                group=group,
                seed=seed,
                work_dir=work_dir)
            self.results.append(result)
            self.write()
        return self.write()

    def add_step_ratios(self, steps: int = 10) -> Dict:
        """Time every arm's training step against the reference arm's, side by
        side in one process (:func:`~.step_time.step_time_ratio`), and rewrite
        the report with ``step_ratios``."""
        from .step_time import step_time_ratio
        reference = next(a for a in self.arms if a.name == self.reference)
        ref_cfg = self.make_config(reference, 0, osp.join(self.out_dir, 'step_time'), None)
        for arm in self.arms:
            if arm.name != self.reference:
                cfg = self.make_config(arm, 0, osp.join(self.out_dir, 'step_time'), None)
                self.step_ratios[arm.name] = step_time_ratio(cfg, ref_cfg, steps)
                print(
                    f'[compare] step time {arm.name} / {self.reference}: '
                    f'{self.step_ratios[arm.name]["ratio"]:.3f}',
                    flush=True)
        return self.write()

    def summary(self) -> List[Dict]:
        """Per group and arm: every metric summarised over seeds, the step time
        and its ratio to the reference arm's, and the weight spread per stage."""
        rows = []
        ref_step = {}
        for group in self.groups:
            runs = [r for r in self.results if r['group'] == group and r['arm'] == self.reference]
            ref_step[group] = summarize([r['step_time'] for r in runs])['mean']
        for group in self.groups:
            for arm in self.arms:
                runs = [r for r in self.results if r['group'] == group and r['arm'] == arm.name]
                if not runs:
                    continue
                step = summarize([r['step_time'] for r in runs])
                stages = sorted({s for r in runs for s in r.get('weight_spread', {})})
                rows.append(
                    dict(
                        group=group,
                        arm=arm.name,
                        label=arm.label,
                        seeds=[r['seed'] for r in runs],
                        metrics={
                            m: summarize([r['metrics'].get(m, float('nan')) for r in runs])
                            for m in self.metrics
                        },
                        step_time=step,
                        step_ratio=step['mean'] / ref_step[group] if ref_step[group] else None,
                        train_time=summarize([r['train_time'] for r in runs]),
                        weight_spread={
                            s: {
                                k:
                                summarize([
                                    r['weight_spread'][s].get(k, float('nan')) for r in runs
                                    if s in r.get('weight_spread', {})
                                ])
                                for k in SPREAD_KEYS
                            }
                            for s in stages
                        }))
        return rows

    def differences(self) -> List[Dict]:
        """Paired difference of ``metric`` (arm - reference) per group and arm."""
        out = []
        for group in self.groups:

            def per_seed(name):
                return {
                    r['seed']: r['metrics'].get(self.metric, float('nan'))
                    for r in self.results if r['group'] == group and r['arm'] == name
                }

            reference = per_seed(self.reference)
            for arm in self.arms:
                if arm.name == self.reference or not per_seed(arm.name):
                    continue
                out.append(
                    dict(
                        group=group,
                        arm=arm.name,
                        label=arm.label,
                        reference=self.reference,
                        **paired_difference(per_seed(arm.name), reference)))
        return out

    def write(self) -> Dict:
        """Write ``<name>.json`` and ``<name>.md``; returns the report."""
        report = dict(
            header=self.header,
            metric=self.metric,
            metrics=self.metrics,
            evaluate=self.evaluate,
            reference=self.reference,
            seeds=self.seeds,
            groups=self.groups,
            group_name=self.group_name,
            arms=[asdict(a) for a in self.arms],
            total_time=time.perf_counter() - self.started,
            results=self.results,
            summary=self.summary(),
            differences=self.differences(),
            step_ratios=self.step_ratios)
        write_report(self.json_path, report)
        return report
