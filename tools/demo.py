"""The offline demo (`make demo`): BA2M Mask R-CNN on the digits set, on CPU.

1. Builds the digits instance-segmentation set into ``data/digits_demo/`` if it
   is missing (scikit-learn's load_digits scans, no download).
2. Trains ``configs/demo_mask_rcnn_r18_ba2m_digits.py`` from scratch with
   mmengine's Runner (work dir ``work_dirs/demo_mask_rcnn_r18_ba2m_digits``).
3. Evaluates on the val split with mmdet's CocoMetric (bbox and segm mAP,
   pycocotools) and prints a result table.

``--compare`` also trains the plain ResNet-18 twin under the same budget and
seed (`make demo-compare`); ``--arms`` picks any arms, e.g. ``--arms ba2m
ba2m_softmax`` for the softmax vs scaled_softmax experiment. The runs, the
statistics and the reports are those of the one comparison tool,
:mod:`ba2m_mm.compare` (``tools/compare.py`` drives it for CIFAR-10).

Repeats: ``--seeds 0 1 2`` trains every arm once per seed and ``--batch-size 2
4`` once per images-per-batch setting (default: the config's 4). The budget is
the same in images seen at every batch size: the same number of epochs (2 by
default, 600 images each), so batch 2 runs twice the iterations; the
iteration-based learning-rate steps (50-iteration warm-up, x0.1 at 250 of 300
at batch 4) move with the batch size so that they fall after the same number
of images. The learning rate is not rescaled (AdamW, lr 1e-3 at every batch
size). Every BA2M arm runs with ``BA2MWeightHook`` (every iteration, no text
log), and the report gives, per BA2M stage, the standard deviation of the
batch weights (mean over training / over its last 10%). Per batch size and
arm: mean +- sample std (n - 1) and median over the seeds, and with the plain
arm, the paired difference per seed with its mean and 95% interval; all runs,
the summary and the tables go to ``WORK_DIR_ROOT/demo_results.json`` and
``demo_results.md`` (rewritten after every run, so an interrupted experiment
keeps the finished runs).

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
import os
import os.path as osp

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks

# isort: split
import torch
from mmengine.config import DictAction

from ba2m_mm.compare import Comparison, format_report
from ba2m_mm.compare.digits import (DIGITS_ARMS, DIGITS_METRICS, demo_pictures, digits_config,
                                    ensure_digits)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_THREADS = 2


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
        choices=sorted(DIGITS_ARMS),
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
    parser.add_argument(
        '--no-pictures', action='store_true', help='skip the weight, branch and t-SNE plots')
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
        # BA2M weighs the images of a batch against each other: with 1 image it does nothing.
        low = 2 if any(DIGITS_ARMS[a].config != DIGITS_ARMS['plain'].config
                       for a in args.arms) else 1
        if any(b < low
               for b in args.batch_size) or len(set(args.batch_size)) != len(args.batch_size):
            parser.error(f'--batch-size must be distinct integers >= {low}'
                         f'{" (BA2M weighs the images of a batch)" if low == 2 else ""}, got '
                         f'{args.batch_size}')
    if args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if args.max_epochs is not None and args.max_epochs < 1:
        parser.error(f'--max-epochs must be >= 1, got {args.max_epochs}')


def build_comparison(args, data) -> Comparison:
    """The demo as a :class:`Comparison`: digits arms, groups = images per batch."""
    single = len(args.seeds) == 1 and len(args.batch_size or [None]) == 1

    def work_dir_name(arm, seed, batch):
        if single:
            return f'demo_{arm.name}'
        return f'demo_{arm.name}' + (f'_b{batch}_seed{seed}' if batch else f'_seed{seed}')

    def make_config(arm, seed, work_dir, batch):
        return digits_config(arm, args.data_root, work_dir, args.max_epochs, seed, args.cfg_options,
                             batch)

    return Comparison([DIGITS_ARMS[a] for a in args.arms],
                      args.seeds,
                      args.work_dir_root,
                      metric='coco/bbox_mAP',
                      metrics=DIGITS_METRICS[:2],
                      reference='plain' if 'plain' in args.arms else None,
                      evaluate='test',
                      groups=args.batch_size or [None],
                      make_config=make_config,
                      name='demo_results',
                      header=f'Digits demo: {data["train"]} train / {data["val"]} val images '
                      f'(the test loop evaluates the val split), CPU ({args.threads} threads), '
                      f'seeds {args.seeds}',
                      group_name='images/batch',
                      work_dir_name=work_dir_name)


def main(argv=None):
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    torch.set_num_threads(args.threads)  # before any work: fixed reduction order
    data = ensure_digits(args.data_root, args.num_train, args.num_val)
    comparison = build_comparison(args, data)
    report = comparison.run(resume=False)
    md = osp.join(args.work_dir_root, 'demo_results.md')
    print('\n' + format_report(report))
    if not args.no_pictures:
        pictures = demo_pictures(report, args.work_dir_root)
        print('Pictures:\n' + '\n'.join(f'  {p}' for p in pictures))
    print(f'(results also in {comparison.json_path} and {md}; total '
          f'{report["total_time"]:.0f} s)')
    return report


if __name__ == '__main__':
    main()
