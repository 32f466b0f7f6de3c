"""The offline demo (`make demo`): BA2M Mask R-CNN on the digits set, on CPU.

1. Builds the digits instance-segmentation set into ``data/digits_demo/`` if it
   is missing (scikit-learn's load_digits scans, no download).
2. Trains ``configs/demo_mask_rcnn_r18_ba2m_digits.py`` from scratch with
   mmengine's Runner (work dir ``work_dirs/demo_mask_rcnn_r18_ba2m_digits``).
3. Evaluates on the val split with mmdet's CocoMetric (bbox and segm mAP,
   pycocotools) and prints a result table.

``--compare`` also trains the plain ResNet-18 twin under the same budget and
seed (`make demo-compare`); ``--arms`` picks any arms, e.g. ``--arms ba2m
ba2m_softmax`` for the softmax vs scaled_softmax experiment.

Repeats: ``--seeds 0 1 2`` trains every arm once per seed and ``--batch-size 2
4`` once per images-per-batch setting (default: the config's 4). The budget is
the same in images seen at every batch size: the same number of epochs (2 by
default, 600 images each), so batch 2 runs twice the iterations; the
iteration-based learning-rate steps (50-iteration warm-up, x0.1 at 250 of 300
at batch 4) move with the batch size so that they fall after the same number
of images. The learning rate is not rescaled (AdamW, lr 1e-3 at every batch
size). Every BA2M arm runs with ``BA2MWeightHook`` (every iteration, no text
log), and the report gives, per BA2M stage, the standard deviation of the
batch weights averaged over the logged iterations. With more than one run per
arm, the report is mean +- sample std (n - 1) over the seeds, per batch size
and arm; all runs, the summary and both tables go to
``WORK_DIR_ROOT/demo_results.json`` and ``demo_results.md`` (rewritten after
every run, so an interrupted experiment keeps the finished runs).

Threads: every run uses ``--threads`` (default 2) intra-op threads, set with
``torch.set_num_threads`` before any work. The same seed, thread count and
machine give the same numbers; a different thread count changes the
floating-point reduction order and hence the results.

Examples:
    python tools/demo.py
    python tools/demo.py --compare
    python tools/demo.py --compare --seeds 0 1 2 --batch-size 2 4
    python tools/demo.py --arms ba2m ba2m_softmax --max-epochs 4
"""
import argparse
import importlib.util
import itertools
import json
import math
import os
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional, Sequence

# Idle OpenMP threads sleep instead of spinning. Must be set before torch starts
# OpenMP. On a shared 2-core machine this sped training up ~10x (0.6-1.2 s vs 6-8 s
# an iteration, measured under load); not measured on an idle machine.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from ba2m_mm.datasets import build_digits_coco  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BA2M_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_ba2m_digits.py')
PLAIN_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_plain_digits.py')
# name -> (config, cfg-options, label in the table)
ARMS = {
    'ba2m': (BA2M_CONFIG, {}, 'BA2M R-18 (scaled_softmax)'),
    'plain': (PLAIN_CONFIG, {}, 'plain R-18'),
    'ba2m_softmax': (BA2M_CONFIG, {
        'model.backbone.ba2m_cfg.normalize': 'softmax'
    }, 'BA2M R-18 (softmax)'),
}
METRICS = (('coco/bbox_mAP', 'bbox mAP'), ('coco/bbox_mAP_50', 'bbox mAP50'),
           ('coco/segm_mAP', 'segm mAP'), ('coco/segm_mAP_50', 'segm mAP50'))
# Metrics of the summary (mean +- std over seeds).
SUMMARY_METRICS = (('coco/bbox_mAP', 'bbox mAP'), ('coco/segm_mAP', 'segm mAP'))
DEFAULT_THREADS = 2
# Added to every BA2M arm: the batch weights of every training iteration go to
# <log_dir>/vis_data/scalars.json (keys ba2m/<stage>/w_std, ...).
WEIGHT_HOOK = dict(type='BA2MWeightHook', interval=1, log_text=False)
_RUN_IDS = itertools.count()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Offline CPU demo: train and evaluate BA2M Mask R-CNN on the digits set.')
    parser.add_argument(
        '--compare',
        action='store_true',
        help='also run the plain ResNet-18 twin (same budget and seed)')
    parser.add_argument(
        '--arms',
        nargs='+',
        choices=sorted(ARMS),
        help='arms to run (default: ba2m, plus plain with --compare)')
    parser.add_argument(
        '--data-root',
        default=osp.join(REPO, 'data', 'digits_demo'),
        help='digits set; built here if missing')
    parser.add_argument(
        '--work-dir-root',
        default=osp.join(REPO, 'work_dirs'),
        help='each arm trains in WORK_DIR_ROOT/demo_<arm>')
    parser.add_argument(
        '--num-train', type=int, default=600, help='training images when the set is built')
    parser.add_argument(
        '--num-val', type=int, default=150, help='validation images when the set is built')
    parser.add_argument('--max-epochs', type=int, help='override the config schedule length')
    parser.add_argument(
        '--seed', type=int, help='training seed of all arms (default 0); see --seeds')
    parser.add_argument(
        '--seeds',
        nargs='+',
        type=int,
        help='train every arm once per seed and report mean +- std, e.g. --seeds 0 1 2')
    parser.add_argument(
        '--batch-size',
        nargs='+',
        type=int,
        help='images per training batch, one run per value, e.g. --batch-size 2 4 (default: '
        "the config's 4). Same epochs, hence the same images seen, at every batch size")
    parser.add_argument(
        '--threads',
        type=int,
        default=DEFAULT_THREADS,
        help=f'intra-op CPU threads of every run (default {DEFAULT_THREADS}): fixed so that '
        'runs are comparable and repeatable')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='extra config overrides for every arm (mmengine syntax)')
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject option values that cannot run, naming the option and the value."""
    if args.seed is not None and args.seeds is not None:
        parser.error(f'give either --seed ({args.seed}) or --seeds ({args.seeds}), not both')
    seeds = args.seeds if args.seeds is not None else [0 if args.seed is None else args.seed]
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        parser.error(f'--seeds must be distinct integers >= 0, got {seeds}')
    args.seeds = seeds
    args.arms = args.arms or (['ba2m', 'plain'] if args.compare else ['ba2m'])
    if args.batch_size is not None:
        arms = args.arms
        # BA2M weighs the images of a batch against each other: with 1 image it does nothing.
        low = 2 if any(ARMS[a][0] == BA2M_CONFIG for a in arms) else 1
        if any(b < low
               for b in args.batch_size) or len(set(args.batch_size)) != len(args.batch_size):
            parser.error(f'--batch-size must be distinct integers >= {low}'
                         f'{" (BA2M weighs the images of a batch)" if low == 2 else ""}, got '
                         f'{args.batch_size}')
    if args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if args.max_epochs is not None and args.max_epochs < 1:
        parser.error(f'--max-epochs must be >= 1, got {args.max_epochs}')


def ensure_data(data_root: str, num_train: int = 600, num_val: int = 150, **kwargs) -> Dict:
    """Build the digits set under ``data_root`` unless both annotation files exist.

    Returns:
        dict: Number of images per split, ``built`` (bool).
    """
    ann_files = [
        osp.join(data_root, 'annotations', f'instances_{s}.json') for s in ('train', 'val')
    ]
    if all(osp.isfile(f) for f in ann_files):
        counts = {}
        for split, ann_file in zip(('train', 'val'), ann_files):
            with open(ann_file) as f:
                counts[split] = len(json.load(f)['images'])
        print(f'Using the digits set in {data_root} ({counts["train"]} train / {counts["val"]} '
              'val images); delete it to rebuild.')
        return dict(counts, built=False)
    print(f'Building the digits demo set in {data_root} (scikit-learn load_digits, offline) ...')
    summary = build_digits_coco(data_root, num_train=num_train, num_val=num_val, **kwargs)
    return dict(train=summary['train']['num_images'], val=summary['val']['num_images'], built=True)


def arm_config(arm: str,
               data_root: str,
               work_dir: str,
               max_epochs: Optional[int] = None,
               seed: int = 0,
               cfg_options: Optional[Dict] = None,
               batch_size: Optional[int] = None) -> Config:
    """Config of one demo arm, pointed at ``data_root`` and ``work_dir``.

    Validation during training is switched off; the demo evaluates once, after
    training, through the test loop (same val split, same CocoMetric).

    ``batch_size`` (images per training batch) keeps the budget in images
    seen: the number of epochs stays, and every iteration-based boundary of
    the learning-rate schedule (warm-up end, milestones) is multiplied by
    ``config batch / batch_size``, so it falls after the same number of
    images. The learning rate itself is not changed.
    """
    if arm not in ARMS:
        raise ValueError(f'arm must be one of {sorted(ARMS)}, got {arm!r}')
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f'batch_size must be an int >= 1, got {batch_size!r}')
    config, options, _ = ARMS[arm]
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    data_root = osp.join(data_root, '')
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = data_root
    cfg.test_evaluator.ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    if max_epochs is not None:
        # Stretch the schedule: epoch-based steps to the new length, iteration-
        # based steps (after warmup) by the same factor.
        scale = max_epochs / cfg.train_cfg.max_epochs
        cfg.train_cfg.max_epochs = max_epochs
        cfg.default_hooks.checkpoint.interval = max_epochs
        for scheduler in cfg.param_scheduler:
            if 'milestones' in scheduler:
                scheduler.milestones = [max(1, round(m * scale)) for m in scheduler.milestones]
                scheduler.end = max(1, round(scheduler.end * scale))
    if batch_size is not None and batch_size != cfg.train_dataloader.batch_size:
        factor = cfg.train_dataloader.batch_size / batch_size  # iterations per image seen
        for scheduler in cfg.param_scheduler:
            if scheduler.get('by_epoch', True):
                continue
            for key in ('begin', 'end'):
                if key in scheduler:
                    scheduler[key] = round(scheduler[key] * factor)
            if 'milestones' in scheduler:
                scheduler.milestones = [max(1, round(m * factor)) for m in scheduler.milestones]
        cfg.train_dataloader.batch_size = batch_size
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.train_cfg.pop('val_interval', None)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    return cfg


def add_weight_hook(cfg: Config) -> bool:
    """Add :data:`WEIGHT_HOOK` (``BA2MWeightHook`` every iteration) to a config
    with a BA2M backbone, unless it has one. Returns whether the config has
    the hook now."""
    if not str(cfg.model.backbone.type).endswith('BA2MResNet'):
        return False
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') == WEIGHT_HOOK['type'] for h in hooks):
        hooks.append(dict(WEIGHT_HOOK))
    cfg.custom_hooks = hooks
    return True


def _load_ba2m_scalars():
    """``load_ba2m_scalars`` of ``tools/analysis/plot_ba2m_weights.py`` (one reader)."""
    path = osp.join(REPO, 'tools', 'analysis', 'plot_ba2m_weights.py')
    spec = importlib.util.spec_from_file_location('plot_ba2m_weights', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_ba2m_scalars


def weight_spread(log_dir: str) -> Dict[str, Dict[str, float]]:
    """Per BA2M module, the batch-weight statistics that ``BA2MWeightHook``
    logged in ``log_dir``, averaged over the logged iterations.

    Returns:
        dict: ``{name: {'w_std': mean of w_std, 'entropy_norm': mean,
        'logged': number of logged iterations}}``; empty when nothing was
        logged (plain arm).
    """
    try:
        series, _ = _load_ba2m_scalars()(log_dir)
    except FileNotFoundError:
        return {}
    out = {}
    for name, stats in sorted(series.items()):
        w_std = [v for _, v in stats.get('w_std', [])]
        entropy = [v for _, v in stats.get('entropy_norm', [])]
        out[name] = dict(
            w_std=statistics.fmean(w_std) if w_std else float('nan'),
            entropy_norm=statistics.fmean(entropy) if entropy else float('nan'),
            logged=len(w_std))
    return out


def run_arm(arm: str, data_root: str, work_dir: str, **kwargs) -> Dict:
    """Train one arm and evaluate it on the val split.

    Args:
        arm (str): Key of :data:`ARMS`.
        data_root (str): Digits set directory.
        work_dir (str): Runner work dir (logs, checkpoint).
        **kwargs: ``max_epochs``, ``seed``, ``cfg_options``, ``batch_size``
            of :func:`arm_config`.

    Returns:
        dict: ``arm``, ``label``, ``metrics`` (CocoMetric output),
        ``train_time``/``test_time`` (s), ``iters``, ``epochs``,
        ``batch_size``, ``seed``, ``threads``, ``weight_spread`` (see
        :func:`weight_spread`) and ``work_dir``.
    """
    cfg = arm_config(arm, data_root, work_dir, **kwargs)
    add_weight_hook(cfg)  # the weight spread of the report
    # mmdet's default_runtime names its visualizer 'visualizer', and mmengine
    # returns an existing instance of that name: without a name of its own,
    # every later run of this process would log into the first run's log_dir.
    cfg.visualizer.name = f'demo_visualizer_{next(_RUN_IDS)}_{osp.abspath(work_dir)}'
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_time = time.perf_counter() - start
    start = time.perf_counter()
    metrics = runner.test()
    test_time = time.perf_counter() - start
    return dict(
        arm=arm,
        label=ARMS[arm][2],
        metrics={
            k: float(v)
            for k, v in metrics.items()
        },
        train_time=train_time,
        test_time=test_time,
        iters=runner.iter,
        epochs=cfg.train_cfg.max_epochs,
        batch_size=cfg.train_dataloader.batch_size,
        seed=cfg.randomness.seed,
        threads=torch.get_num_threads(),
        weight_spread=weight_spread(runner.log_dir),
        work_dir=work_dir)


def format_table(results) -> str:
    """Markdown table of the arms' COCO metrics and times, one row a run."""
    header = ['arm'] + [name for _, name in METRICS] + ['train (s)', 'test (s)', 'iters']
    several = len({(r.get('batch_size'), r.get('seed')) for r in results}) > 1
    if several:
        header[1:1] = ['images/batch', 'seed']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for r in results:
        cells = [r['label']] + [f'{r["metrics"].get(key, float("nan")):.3f}' for key, _ in METRICS]
        cells += [f'{r["train_time"]:.0f}', f'{r["test_time"]:.0f}', str(r['iters'])]
        if several:
            cells[1:1] = [str(r.get('batch_size')), str(r.get('seed'))]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _mean_std(values: Sequence[float]) -> Dict[str, float]:
    values = [v for v in values if not math.isnan(v)]
    return dict(
        mean=statistics.fmean(values) if values else float('nan'),
        std=statistics.stdev(values) if len(values) > 1 else float('nan'),
        n=len(values))


def summarize(results: List[Dict]) -> List[Dict]:
    """Mean and sample standard deviation (n - 1) over the seeds, per images
    per batch and arm, in the order the runs came: COCO metrics
    (:data:`SUMMARY_METRICS`), the per-stage weight spread, train time."""
    groups: Dict = {}
    for r in results:
        groups.setdefault((r['batch_size'], r['arm']), []).append(r)
    rows = []
    for (batch, arm), runs in groups.items():
        row = dict(
            batch_size=batch,
            arm=arm,
            label=runs[0]['label'],
            seeds=[r['seed'] for r in runs],
            iters=runs[0]['iters'],
            metrics={
                key: _mean_std([r['metrics'].get(key, float('nan')) for r in runs])
                for key, _ in SUMMARY_METRICS
            },
            train_time=_mean_std([r['train_time'] for r in runs]))
        stages = sorted({name for r in runs for name in r.get('weight_spread', {})})
        row['w_std'] = {
            name:
            _mean_std(
                [r['weight_spread'][name]['w_std'] for r in runs if name in r['weight_spread']])
            for name in stages
        }
        rows.append(row)
    return rows


def format_summary(rows: List[Dict]) -> str:
    """Markdown table of :func:`summarize`: mean +- std over seeds."""

    def cell(ms, fmt='.3f'):
        if math.isnan(ms['mean']):
            return '-'
        if math.isnan(ms['std']):
            return f'{ms["mean"]:{fmt}}'
        return f'{ms["mean"]:{fmt}} ± {ms["std"]:{fmt}}'

    stages = sorted({name for row in rows for name in row['w_std']})
    header = (['images/batch', 'arm', 'seeds'] + [name for _, name in SUMMARY_METRICS] +
              [f'w std {name}' for name in stages] + ['iters', 'train (s)'])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for row in rows:
        cells = [str(row['batch_size']), row['label'], ' '.join(map(str, row['seeds']))]
        cells += [cell(row['metrics'][key]) for key, _ in SUMMARY_METRICS]
        cells += [cell(row['w_std'][n], '.4f') if n in row['w_std'] else '-' for n in stages]
        cells += [str(row['iters']), cell(row['train_time'], '.0f')]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def write_report(out_json: str, report: Dict) -> str:
    """Write the JSON report and, beside it, the markdown tables (``.md``)."""
    with open(out_json, 'w') as f:
        json.dump(report, f, indent=2)
    md = osp.splitext(out_json)[0] + '.md'
    parts = [report['header'], '']
    if report.get('summary'):
        parts += [
            'Mean ± sample std over seeds (n - 1); w std: standard deviation of the batch '
            'weights per BA2M stage (BA2MWeightHook), averaged over the logged '
            'iterations.', '',
            format_summary(report['summary']), ''
        ]
    parts += ['All runs:', '', format_table(report['results']), '']
    with open(md, 'w') as f:
        f.write('\n'.join(parts))
    return md


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)  # before any work: fixed reduction order
    total = time.perf_counter()
    data = ensure_data(args.data_root, args.num_train, args.num_val)
    batches = args.batch_size or [None]  # None: the config's batch size
    # Seeds outermost: an interrupted experiment has as many seeds at every batch size.
    runs = [(b, s, a) for s in args.seeds for b in batches for a in args.arms]
    single = len(batches) == 1 and len(args.seeds) == 1
    os.makedirs(args.work_dir_root, exist_ok=True)
    out = osp.join(args.work_dir_root, 'demo_results.json')
    results = []
    report = {}
    for i, (batch, seed, arm) in enumerate(runs, 1):
        print(
            f'\n=== demo run {i}/{len(runs)}: arm {arm} ({ARMS[arm][2]}), images/batch '
            f'{batch or "config"}, seed {seed}, {args.threads} threads; '
            f'{time.perf_counter() - total:.0f} s so far ===',
            flush=True)
        name = f'demo_{arm}'
        if not single:
            name += f'_b{batch}_seed{seed}' if batch else f'_seed{seed}'
        results.append(
            run_arm(
                arm,
                args.data_root,
                osp.join(args.work_dir_root, name),
                max_epochs=args.max_epochs,
                seed=seed,
                cfg_options=args.cfg_options,
                batch_size=batch))
        header = (f'Digits demo: {data["train"]} train / {data["val"]} val images, CPU '
                  f'({args.threads} threads), seeds {args.seeds}, images/batch '
                  f'{sorted({r["batch_size"] for r in results})}, {len(results)}/{len(runs)} '
                  f'runs, total {time.perf_counter() - total:.0f} s')
        report = dict(
            header=header,
            data=data,
            threads=args.threads,
            seeds=args.seeds,
            total_time=time.perf_counter() - total,
            results=results,
            summary=summarize(results) if not single else [])
        md = write_report(out, report)
    print('\n' + report['header'])
    if report['summary']:
        print('Mean ± sample std over seeds; w std = std of the batch weights per BA2M stage '
              '(BA2MWeightHook), averaged over the logged iterations:')
        print(format_summary(report['summary']))
        print('All runs:')
    print(format_table(results))
    print(f'(results also in {out} and {md})')


if __name__ == '__main__':
    main()
