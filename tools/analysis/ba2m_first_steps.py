"""The first SGD steps of a BA2M classifier, and why its SARs spread across a batch.

Prints, per step, the loss and every BA2M's largest batch weight (``first_steps``), and
for one batch through a freshly initialised model at full strength (gamma = 1) the
decomposition of the SAR spread per stage (``sar_spread``): prior vs batch statistics,
channel correlation, the spread without the max over branches, and the correlation of the
SAR with the image's response energy.

Example::

    python tools/analysis/ba2m_first_steps.py configs/resnet18_ba2m_cpu_cifar10.py
    python tools/analysis/ba2m_first_steps.py configs/resnet18_ba2m_cpu_cifar10.py \\
        --cfg-options model.backbone.ba2m_cfg.zero_init=False
"""
import argparse
import os

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks

# isort: split
import torch
from mmengine.config import Config, DictAction

from ba2m_mm.compare.first_steps import first_steps, sar_spread


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='mmpretrain config with a BA2M backbone')
    parser.add_argument('--batch-size', type=int, default=128, help='images per step (128)')
    parser.add_argument('--steps', type=int, default=12, help='SGD steps (12)')
    parser.add_argument('--lr', type=float, default=0.05, help='SGD learning rate (0.05)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1, help='CPU threads (1)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.batch_size < 2 or args.steps < 1:
        parser.error(f'--batch-size must be >= 2 and --steps >= 1, got {args.batch_size}, '
                     f'{args.steps}')
    return args


def main(argv=None):
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    records = first_steps(cfg, args.steps, args.lr, args.batch_size, args.seed)
    print(f'First {args.steps} SGD steps at N = {args.batch_size} (lr {args.lr}):')
    for step, r in enumerate(records):
        weights = ' '.join(f'{s} {w["w_max"]:.4f}' for s, w in r['ba2m'].items())
        print(f'  step {step:2d}  loss {r["loss"]:8.3f}  largest weight: {weights}')
    print('\nSAR spread at initialisation, gamma = 1 (sar_spread):')
    print('| stage | statistics | var ratio | SAR std | no-max std | independent | '
          'channel corr | energy corr | largest weight |')
    print('|---|---|---|---|---|---|---|---|---|')
    for stage, by_stats in sar_spread(cfg, args.batch_size, args.seed).items():
        for name, s in by_stats.items():
            print(f'| {stage} | {name} | {s["var_ratio"]:.3f} | {s["sar_std"]:.3f} | '
                  f'{s["sar_std_no_max"]:.3f} | {s["sar_std_independent"]:.3f} | '
                  f'{s["channel_corr"]:.3f} | {s["energy_corr"]:.3f} | {s["w_max"]:.1f} |')


if __name__ == '__main__':
    main()
