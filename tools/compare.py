"""Seeded comparison of arms (configs plus cfg-options): mean ± std, median, paired differences.

Every arm is trained once per seed with mmengine's Runner and evaluated once after
training, on the val split (where choices are made) or, with ``--evaluate test``, on the
test split (the final comparison). Reports: ``OUT_DIR/NAME.json`` and ``NAME.md``,
rewritten after every run; finished runs are kept and skipped when the same command runs
again (an interrupted comparison resumes). ``--merge`` combines reports of comparisons run
in parallel (e.g. one process per seed).

Examples:
    python tools/compare.py --preset cifar10-cpu --seeds 0 1 2
    python tools/compare.py --preset cifar10-cpu --seeds 0 1 2 3 4 --evaluate test
    python tools/compare.py --arm ba2m configs/resnet18_ba2m_cpu_cifar10.py \\
        --arm r4 configs/resnet18_ba2m_cpu_cifar10.py model.backbone.ba2m_cfg.reduction=4 \\
        --arm plain configs/resnet18_cpu_cifar10.py --reference plain --seeds 0 1
    python tools/compare.py --merge work_dirs/a/comparison.json work_dirs/b/comparison.json \\
        --out-dir work_dirs/ab
"""
import argparse
import os

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks

# isort: split
import torch
from mmengine.config import DictAction

from ba2m_mm.compare import Comparison, format_report, merge_reports, parse_arm
from ba2m_mm.compare.presets import CIFAR10_ARCHIVE, PRESETS
from ba2m_mm.datasets import ensure_cifar10_jpeg


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=sorted(PRESETS), help='named arms and metric')
    parser.add_argument(
        '--arm',
        nargs='+',
        action='append',
        metavar='NAME CONFIG [KEY=VALUE]',
        help='an arm: a name, a config and cfg-options; repeat for every arm')
    parser.add_argument('--only', nargs='+', help='run only these arms of the preset')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0], help='seeds (default 0)')
    parser.add_argument('--metric', help='metric compared, e.g. accuracy/top1')
    parser.add_argument('--reference', help='reference arm of the paired differences')
    parser.add_argument('--evaluate', choices=('val', 'test'), default='val')
    parser.add_argument('--out-dir', default='work_dirs/compare', help='work dirs and reports')
    parser.add_argument('--name', default='comparison', help='report file name')
    parser.add_argument('--threads', type=int, default=2, help='intra-op CPU threads (default 2)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='for every arm')
    parser.add_argument('--merge', nargs='+', metavar='JSON', help='merge finished reports')
    parser.add_argument(
        '--step-ratio',
        type=int,
        metavar='STEPS',
        help='also time STEPS training steps of every arm against the reference, side by side '
        'in one process, and add the ratios to the report (robust to machine load)')
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if not (args.merge or args.preset or args.arm):
        parser.error('give --preset, --arm (one per arm) or --merge')
    if args.arm and args.preset:
        parser.error('give either --preset or --arm, not both')
    return args


def build_comparison(args) -> Comparison:
    preset = PRESETS.get(args.preset, {})
    arms = list(preset.get('arms', [])) or [parse_arm(tokens) for tokens in args.arm]
    if args.only:
        unknown = sorted(set(args.only) - {a.name for a in arms})
        if unknown:
            raise SystemExit(f'--only: unknown arm(s) {unknown}; arms: {[a.name for a in arms]}')
        arms = [a for a in arms if a.name in args.only]
    metric = args.metric or preset.get('metric')
    if metric is None:
        raise SystemExit('--metric is required without --preset (e.g. accuracy/top1)')
    if preset.get('data', {}).get('kind') == 'cifar10':
        print('[compare] CIFAR-10 splits:',
              ensure_cifar10_jpeg(preset['data']['data_root'], CIFAR10_ARCHIVE))
    reference = args.reference or preset.get('reference')
    return Comparison(
        arms,
        args.seeds,
        args.out_dir,
        metric,
        reference=reference if reference in {a.name
                                             for a in arms} else None,
        evaluate=args.evaluate,
        cfg_options=args.cfg_options,
        name=args.name,
        header=f'Comparison `{args.preset or "custom"}`: seeds {args.seeds}, '
        f'{args.threads} CPU threads, evaluated on {args.evaluate}')


def main(argv=None):
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    torch.set_num_threads(args.threads)  # before any work: a fixed reduction order
    if args.merge:
        report = merge_reports(args.merge, args.out_dir, args.name, args.reference)
    else:
        comparison = build_comparison(args)
        report = comparison.run()
        if args.step_ratio:
            report = comparison.add_step_ratios(args.step_ratio)
    print(format_report(report))  # the markdown written beside the JSON
    return report


if __name__ == '__main__':
    main()
