"""The CIFAR-10 verdict in one command, within a wall-clock budget (docs/gpu_verdict.md).

Trains the testbed twins (configs/resnet18_{,se_identity_,ba2m_,random_}cifar10_testbed.py:
plain, identity-start SE, BA2M and random reweighting at BA2M's spread) with as many seeds
and epochs as the budget allows, every arm alike (same seeds, epochs, initial weights of
the shared layers, data order), and writes OUT/verdict.json and verdict.md: the statistics
of tools/compare.py (mean ± std, median, paired differences with 95% intervals against
plain, BA2M against random), the plan, the budget's accounting and what did not fit; also
BA2M on CUDA against the CPU, and the step-time ratios measured side by side.

Data decoded once into device memory and augmented there; bf16 autocast and channels_last
on CUDA, fp32 (channels_last) on CPU. Runs without mmdet (mmengine, mmcv-lite, mmpretrain).

Example (one H100):
    python tools/analysis/cifar10_gpu_verdict.py --budget-s 480 --out work_dirs/gpu_verdict \\
        --archive .gpu/cifar10-jpeg.tar.gz
"""
import time

START = time.perf_counter()  # the budget counts from here, imports included

# isort: split
import argparse  # noqa: E402
import math  # noqa: E402
import os.path as osp  # noqa: E402
import sys  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)


def positive(kind, minimum):

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'must be a {kind.__name__}, got {text!r}')
        if not value >= minimum or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f'must be >= {minimum}, got {text!r}')
        return value

    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--budget-s',
        type=positive(float, 1),
        required=True,
        help='wall-clock budget of the whole command, seconds (e.g. 480)')
    parser.add_argument('--out', default='work_dirs/gpu_verdict', help='report folder')
    parser.add_argument('--device', choices=('auto', 'cuda', 'cpu'), default='auto')
    parser.add_argument('--data-root', help='CIFAR-10 JPEG folder (default: data/cifar10)')
    parser.add_argument(
        '--archive',
        help='cifar10-jpeg.tar.gz, extracted when --data-root has '
        'no images (default: ../shared/data/cifar10-jpeg.tar.gz)')
    parser.add_argument('--evaluate', choices=('val', 'test'), default='test')
    parser.add_argument(
        '--first-seed',
        type=positive(int, 0),
        default=300,
        help='seeds first-seed, first-seed + 1, ... (default 300: fresh)')
    parser.add_argument('--min-seeds', type=positive(int, 1), default=5)
    parser.add_argument('--max-seeds', type=positive(int, 1), default=10)
    parser.add_argument('--max-epochs', type=positive(int, 1), default=200)
    parser.add_argument(
        '--batch-size',
        type=positive(int, 2),
        help="training batch (default: the testbed config's, 256)")
    parser.add_argument(
        '--max-images',
        type=positive(int, 2),
        help='use at most this many images per split (tests)')
    parser.add_argument('--threads', type=positive(int, 1), help='CPU threads (torch)')
    args = parser.parse_args(argv)
    if args.min_seeds > args.max_seeds:
        parser.error(f'--min-seeds {args.min_seeds} is above --max-seeds {args.max_seeds}')
    if args.archive is not None and not osp.isfile(args.archive):
        parser.error(f'--archive: no such file: {args.archive!r}')
    return args, parser


def require_stack():
    """mmpretrain's models import here (mmengine, mmcv-lite and their imports), or a clear
    error: without them ba2m_mm's SE layer falls back to mmdet's and names mmdet instead."""
    try:
        import mmpretrain.models  # noqa: F401
    except ImportError as error:
        raise SystemExit(
            f'cifar10_gpu_verdict: mmpretrain.models does not import here ({error}). The '
            'verdict needs mmengine, mmcv(-lite) and mmpretrain (the wheel kit of '
            'docs/gpu_verdict.md) and what they import (numpy, PIL, cv2, yaml, rich, einops, '
            'torchvision, ...).')


def main(argv=None):
    args, parser = parse_args(argv)
    from ba2m_mm.analysis.student_t import ensure_t_quantile
    t_source = ensure_t_quantile()  # before the statistics import scipy
    require_stack()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available here (use auto or cpu)')
    device = torch.device('cuda' if args.device != 'cpu' and torch.cuda.is_available() else 'cpu')
    torch.backends.cudnn.benchmark = True

    from mmengine.config import Config

    import ba2m_mm  # noqa: F401  registers the BA2M backbones and modules
    from ba2m_mm.compare.presets import default_archive, default_data_root
    from ba2m_mm.compare.testbed import testbed_configs
    from ba2m_mm.compare.verdict import plan_verdict, run_verdict, verdict_report
    from ba2m_mm.compare.verdict_check import device_check, environment, relative_paths
    from ba2m_mm.compare.verdict_data import load_splits
    from ba2m_mm.compare.verdict_train import ARMS, time_arms

    paths = {a: p for a, p in testbed_configs().items() if a in ARMS}
    # custom_imports of the configs: ba2m_mm (imported above) and ba2m_mm.datasets, whose
    # digits demo needs pycocotools (load_splits reads CIFAR-10 without it)
    configs = {a: Config.fromfile(p, import_custom_modules=False) for a, p in paths.items()}
    plain = configs['plain']
    batch = args.batch_size or plain.train_dataloader.batch_size
    preprocess = plain.data_preprocessor
    phases, t = {}, time.perf_counter()
    data, data_info = load_splits(args.data_root or default_data_root(), args.archive
                                  or default_archive(), args.evaluate, device, preprocess.mean,
                                  preprocess.std, args.max_images)
    phases['data'], t = time.perf_counter() - t, time.perf_counter()
    print(f'[verdict] data on {device}: {data_info["used"]} ({phases["data"]:.1f} s)', flush=True)
    check = device_check(configs['ba2m'], data['train'], device)
    phases['device_check'], t = time.perf_counter() - t, time.perf_counter()
    timing = time_arms(configs, data, args.evaluate, batch, args.first_seed, device)
    phases['timing'] = time.perf_counter() - t

    plan = plan_verdict(args.budget_s, START, timing, len(data['train']), len(data[args.evaluate]),
                        batch, args.first_seed, args.min_seeds, args.max_seeds, args.max_epochs)
    t = time.perf_counter()
    executed = run_verdict(configs, data, args.evaluate, plan, batch, device, START, args.budget_s)
    phases['runs'] = time.perf_counter() - t

    env = environment(
        device, t_quantile=t_source, data=data_info, configs=relative_paths(paths, REPO))
    budget = dict(
        budget_s=args.budget_s,
        reserve_s=plan['reserve_s'],
        phases=phases,
        planned_s=plan['elapsed_s'] + plan['planned_s'] + plan['reserve_s'])
    verdict = dict(
        plan=plan,
        batch=batch,
        timing=timing,
        device_check=check,
        not_fit=plan['not_fit'],
        environment=env,
        budget=budget)
    header = (f'GPU verdict (CIFAR-10 testbed twins): {plan["seeds"]} seeds x '
              f'{plan["epochs"]:g} epochs planned, batch {batch}, on {env["gpu"] or "cpu"}, '
              f'evaluated on {args.evaluate}')
    report = verdict_report(args.out, header, args.evaluate, executed, verdict, START)
    print(
        f'[verdict] report: {osp.join(args.out, "verdict.md")} (used '
        f'{report["verdict"]["budget"]["used_s"]:.1f} of {args.budget_s:.0f} s)',
        flush=True)
    return report


if __name__ == '__main__':
    main()
