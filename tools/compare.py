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
    python tools/compare.py --preset cifar10-cpu --archive /data/cifar10-jpeg.tar.gz \\
        --data-root /data/cifar10          # e.g. from an installed wheel
    python tools/compare.py --arm ba2m configs/resnet18_ba2m_cpu_cifar10.py \\
        --arm r4 configs/resnet18_ba2m_cpu_cifar10.py model.backbone.ba2m_cfg.reduction=4 \\
        --arm plain configs/resnet18_cpu_cifar10.py --reference plain --seeds 0 1
    python tools/compare.py --merge work_dirs/a/comparison.json work_dirs/b/comparison.json \\
        --out-dir work_dirs/ab
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

from ba2m_mm.compare import Comparison, default_config, format_report, merge_reports, parse_arm
from ba2m_mm.compare.det_testbed import digits_cfg_options, ensure_digits_testbed
from ba2m_mm.compare.presets import (PRESET_NAMES, data_cfg_options, default_archive,
                                     default_data_root, preset)
from ba2m_mm.datasets import ensure_cifar10_jpeg


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=PRESET_NAMES, help='named arms and metric')
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
        '--data-root',
        help='data root of the preset (CIFAR-10 JPEGs for cifar10-*, and for --arm comparisons '
        'when given; the digits set for det-testbed-*), prepared here and given to every arm\'s '
        'datasets. Default: data/cifar10 (data/digits_testbed) of the repository; without one '
        '(installed wheel), the same folder in the working directory')
    parser.add_argument(
        '--archive',
        help='cifar10-jpeg.tar.gz, extracted when --data-root holds no images. Default: '
        '../shared/data/cifar10-jpeg.tar.gz beside the repository; no default without one')
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


def prepare_cifar10(args) -> dict:
    """The CIFAR-10 data of ``--data-root`` / ``--archive`` (defaults: the repository
    layout), extracted and split if needed; cfg-options are made from the result."""
    data_root = args.data_root or default_data_root()
    archive = args.archive or default_archive()
    has_images = osp.isdir(osp.join(data_root, 'train'))
    if archive is not None and not osp.isfile(archive) and (args.archive or not has_images):
        raise SystemExit(f'--archive: CIFAR-10 JPEG archive not found: {archive!r}'
                         f'{"" if args.archive else " (the default beside the repository)"}')
    if archive is None and not has_images:
        raise SystemExit(f'--archive: no CIFAR-10 JPEG images at --data-root {data_root!r} and '
                         'no archive to extract (no repository layout to find '
                         '../shared/data/cifar10-jpeg.tar.gz beside it): give --archive '
                         'PATH/cifar10-jpeg.tar.gz')
    print('[compare] CIFAR-10 splits:', ensure_cifar10_jpeg(data_root, archive), 'at', data_root)
    return dict(data_root=data_root, archive=archive)


def build_comparison(args) -> Comparison:
    preset_ = preset(args.preset) if args.preset else {}
    arms = list(preset_.get('arms', [])) or [parse_arm(tokens) for tokens in args.arm]
    if args.only:
        unknown = sorted(set(args.only) - {a.name for a in arms})
        if unknown:
            raise SystemExit(f'--only: unknown arm(s) {unknown}; arms: {[a.name for a in arms]}')
        arms = [a for a in arms if a.name in args.only]
    metric = args.metric or preset_.get('metric')
    if metric is None:
        raise SystemExit('--metric is required without --preset (e.g. accuracy/top1)')
    data_options = {}
    kind = preset_.get('data', {}).get('kind')
    if kind == 'digits-testbed':
        data_root = args.data_root or default_data_root(kind)
        print('[compare] digits testbed splits:', ensure_digits_testbed(data_root), 'at', data_root)
        data_options = digits_cfg_options(data_root)
    elif kind == 'cifar10' or args.data_root or args.archive:
        data = prepare_cifar10(args)
        data_options = data_cfg_options(arms[0].config, data['data_root'], data['archive'])
    # The data options reach every run (and the step-time ratios) but not the runs' specs:
    # where the data lie does not make another run, and a resumed comparison keeps its runs.
    options = {**data_options, **(args.cfg_options or {})}
    reference = args.reference or preset_.get('reference')
    return Comparison(
        arms,
        args.seeds,
        args.out_dir,
        metric,
        preset_.get('metrics') if metric == preset_.get('metric') else None,
        reference=reference if reference in {a.name
                                             for a in arms} else None,
        evaluate=args.evaluate,
        cfg_options=args.cfg_options,
        make_config=lambda arm, seed, work_dir, group: default_config(arm, seed, work_dir, group,
                                                                      options),
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
