"""Training/inference cost of BA2M against plain ResNet-50 and other attention plugins.

Train-step time, peak memory and inference time, models interleaved round by
round (``--settings cls det``, the default on CPU; ``--device cuda`` adds
``det-backbone``); ``--dtype bf16`` / ``--channels-last`` time a fast path;
``--fast-paths`` times the training step of plain and BA2M in fp32, bf16
autocast and each with channels_last, and prints the four-setting table;
``--profile`` counts kernel launches, aten ops and GPU kernel time per step
instead; ``--profile-branches`` times BA2M's branches. What each setting and
measure is: docs/benchmarks.md and ``ba2m_mm.analysis``.

Examples::

    python tools/analysis/benchmark.py                       # cls + det, about 25 min idle CPU
    python tools/analysis/benchmark.py --settings cls --rounds 2 --steps 1   # no verdicts
    python tools/analysis/benchmark.py --profile-branches
    python tools/analysis/benchmark.py --settings cls --dtype bf16 --channels-last
    python tools/analysis/benchmark.py --fast-paths --settings testbed cls --threads 1
    python tools/analysis/benchmark.py --fast-paths fp32 fp32+cl --settings testbed
    python tools/analysis/benchmark.py --device cuda          # cls b32, det-backbone (+ det)
    python tools/analysis/benchmark.py --device cuda --amp
    python tools/analysis/benchmark.py --device cuda --profile   # launches / aten ops / GPU ms
    python tools/analysis/benchmark.py --profile --settings det-backbone --shape 128 192
    bash tools/analysis/gpu_benchmark.sh                        # all of it on a bare CUDA box
"""
import argparse
import os
import os.path as osp
import sys

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks

# isort: split
import torch

from ba2m_mm.analysis.benchmark_report import environment
from ba2m_mm.analysis.benchmark_runs import (run_branch_profile, run_fast_paths, run_profiles,
                                             run_timings)
from ba2m_mm.analysis.benchmark_settings import DEFAULT_BA2M, FAST_PATHS, SETTINGS, resolve_settings
from ba2m_mm.analysis.comparison_models import MODELS_ALL
from ba2m_mm.analysis.peak_memory import reexec_with_malloc_env


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--settings',
        nargs='+',
        choices=tuple(SETTINGS),
        help='cls: ImageClassifier R-50 224x224 (batch 8 on CPU, 32 on CUDA); det: Faster '
        'R-CNN R-50-FPN 800x1333 batch 2; det-backbone: the detection backbone alone, '
        '2x3x800x1344; testbed: the CIFAR-10 testbed classifiers (ResNet-18-CIFAR width 16, '
        'batch 256, 32x32). Default: cls det on CPU; cls det-backbone det on CUDA (det only '
        "with mmcv's CUDA ops); det-backbone cls with --profile; testbed cls with "
        '--fast-paths')
    parser.add_argument(
        '--models',
        nargs='+',
        choices=MODELS_ALL,
        help='models to compare (ratios need plain). Default: all, except ba2m-exact in det '
        '(exact global attention over the 66,800 stage-1 positions of an 800x1333 image); '
        'plain ba2m-auto in det-backbone and with --profile')
    parser.add_argument(
        '--rounds', type=int, help='interleaved rounds (default: cls 5, det 2; CUDA 10 / 5)')
    parser.add_argument(
        '--steps',
        type=int,
        help='steps timed per model and round (default: cls 3, det 1; CUDA 5 / 3); with '
        '--profile: steps profiled per model (default: CPU 2, CUDA 5)')
    parser.add_argument(
        '--warmup',
        type=int,
        help='warm-up training steps per model (default: cls 2, det 1; CUDA 5 / 3; '
        '--profile: CPU 1, CUDA 3)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device. Default: cuda if available, else cpu')
    parser.add_argument(
        '--dtype',
        help='fp32 (default) or bf16: bfloat16 mixed precision, AmpOptimWrapper (CUDA) / '
        'CPUAmpOptimWrapper (CPU), no loss scaling')
    parser.add_argument('--amp', action='store_true', help='the same as --dtype bf16')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='the models in the channels_last memory format (as ChannelsLastHook trains them)')
    parser.add_argument(
        '--fast-paths',
        nargs='*',
        metavar='MODE',
        help='time the training step of plain and BA2M (interleaved) in each of these modes, '
        f'one after another, and print the four-setting table: {", ".join(FAST_PATHS)} '
        '(cl: channels_last). Without a MODE: all four')
    parser.add_argument(
        '--threads',
        type=int,
        help='torch threads (torch.set_num_threads). Default: torch\'s (the cores)')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='instead of timing: kernel launches, aten ops and GPU kernel time (CPU: aten ops '
        'and CPU time) per step, plain and BA2M side by side (torch.profiler)')
    parser.add_argument(
        '--batch-size',
        type=int,
        help='override the batch of every setting (default: the per-device batch)')
    parser.add_argument(
        '--shape',
        nargs=2,
        type=int,
        metavar=('H', 'W'),
        help='override the input size of every setting (e.g. a tiny dry run)')
    parser.add_argument(
        '--out-dir',
        default=osp.join('work_dirs', 'benchmark'),
        help='where benchmark.json and benchmark.png (profile.json, profile.md) go. Default: '
        'work_dirs/benchmark')
    parser.add_argument(
        '--profile-branches',
        action='store_true',
        help='profile the BA2M branches on ResNet-50 stage shapes instead')
    args = parser.parse_args(argv)
    for key in ('rounds', 'steps'):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            parser.error(f'--{key} must be >= 1, got {getattr(args, key)}')
    if args.warmup is not None and args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    if args.profile and args.profile_branches:
        parser.error('--profile and --profile-branches are two different modes; give one')
    if args.dtype is not None and args.dtype not in ('fp32', 'bf16'):
        parser.error(f"--dtype must be fp32 or bf16, got {args.dtype!r}")
    if args.amp and args.dtype == 'fp32':
        parser.error('--amp is --dtype bf16; it contradicts --dtype fp32')
    args.amp = args.amp or args.dtype == 'bf16'
    args.dtype = 'bf16' if args.amp else 'fp32'
    if args.fast_paths is not None:
        unknown = [m for m in args.fast_paths if m not in FAST_PATHS]
        if unknown:
            parser.error(f'--fast-paths: unknown mode(s) {", ".join(map(repr, unknown))}; '
                         f'modes: {", ".join(FAST_PATHS)}')
        args.fast_paths = list(dict.fromkeys(args.fast_paths)) or list(FAST_PATHS)
        if args.profile or args.profile_branches:
            parser.error('--fast-paths times steps; it does not combine with --profile or '
                         '--profile-branches')
        if args.models and 'plain' not in args.models:
            parser.error(f'--fast-paths gives ratios to plain: add plain to --models, got '
                         f'{args.models}')
        if args.amp or args.channels_last:
            parser.error('--fast-paths sets the precision and the memory format of each mode '
                         'itself; leave out --dtype, --amp and --channels-last')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if args.batch_size is not None and args.batch_size < 2:
        parser.error(f'--batch-size must be >= 2 (BA2M weighs the samples of a batch; with 1 '
                     f'it does nothing), got {args.batch_size}')
    if args.shape is not None and min(args.shape) < 32:
        parser.error(f'--shape H W must be >= 32 each (ResNet-50 downsamples by 32), got '
                     f'{args.shape}')
    try:
        device = torch.device(args.device)
    except RuntimeError as e:
        parser.error(f'--device {args.device!r}: {e}')
    if device.type not in ('cpu', 'cuda'):
        parser.error(f'--device must be cpu or cuda[:N], got {args.device!r}')
    if device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: CUDA is not available to this torch '
                     f'({torch.__version__})')
    return args


def main(argv=None):
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    os.makedirs(args.out_dir, exist_ok=True)
    env = environment(device)
    print(
        f'torch {env["torch"]}, device {device}'
        f'{" (" + env["gpu"] + ")" if device.type == "cuda" else ""}, '
        f'{env["threads"]} threads{", bf16 AMP" if args.amp else ""}'
        f'{", channels_last" if args.channels_last else ""}',
        flush=True)
    if args.profile_branches:
        return run_branch_profile(args.out_dir)
    if args.fast_paths is not None:
        bf16 = any(FAST_PATHS[m][0] for m in args.fast_paths)
        settings, models = resolve_settings(
            device, args.settings or ['testbed', 'cls'], args.models, amp=bf16)
        if not args.models:  # plain and the default BA2M
            models = {s: ['plain', DEFAULT_BA2M[s]] for s in settings}
        return run_fast_paths(
            settings,
            models,
            device,
            args.out_dir,
            args.fast_paths,
            rounds=args.rounds,
            steps=args.steps,
            warmup=args.warmup,
            batch=args.batch_size,
            shape=args.shape)
    settings, models = resolve_settings(device, args.settings, args.models, args.profile, args.amp)
    overrides = dict(
        steps=args.steps,
        warmup=args.warmup,
        amp=args.amp,
        batch=args.batch_size,
        shape=args.shape,
        channels_last=args.channels_last)
    if args.profile:
        return run_profiles(settings, models, device, args.out_dir, **overrides)
    return run_timings(
        settings,
        models,
        device,
        args.out_dir,
        rounds=args.rounds,
        models_asked=args.models is not None,
        **overrides)


if __name__ == '__main__':
    # The allocator settings make the peak RSS of a step meaningful (every freed activation
    # goes back to the OS); --fast-paths measures no memory and times steps as training
    # runs them, with glibc's defaults.
    if ('--device' not in ' '.join(sys.argv)
            or 'cpu' in sys.argv) and '--fast-paths' not in sys.argv:
        reexec_with_malloc_env(__file__)
    main()
