"""Plot the BA2M statistics logged by ``BA2MWeightHook``: batch weights and branch shares.

Reads the scalars written by mmengine's ``LocalVisBackend``
(``WORK_DIR/<timestamp>/vis_data/scalars.json``) and writes two PNGs, one panel per
stage, each series smoothed (EMA) with the raw trace faint behind
(:mod:`ba2m_mm.visualization`):

- ``ba2m_weights.png``: the largest and smallest batch weight of each logged batch;
- ``ba2m_branch_shares.png``: the share of Eq. 9's max won by each branch.

Example::

    python tools/analysis/plot_ba2m_weights.py work_dirs/mask_rcnn_r50_ba2m_2x_coco
"""
import argparse
import os
import os.path as osp
import sys

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks
from ba2m_mm.visualization import load_ba2m_scalars, plot_ba2m_weights, plot_branch_shares

__all__ = ['load_ba2m_scalars', 'main']  # load_ba2m_scalars: read by tools/demo.py


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        'work_dir',
        help='training work dir, one of its <timestamp> run dirs, or a '
        'vis_data/*.json file')
    parser.add_argument(
        '--out',
        help='output PNG of the weights (default: <work_dir>/ba2m_weights.png, or next to '
        'the JSON file); the branch shares go to ba2m_branch_shares.png beside it')
    parser.add_argument(
        '--smoothing', type=float, default=0.9, help='EMA factor in [0, 1). Default: 0.9')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    series, file = load_ba2m_scalars(args.work_dir)
    folder = args.work_dir if osp.isdir(args.work_dir) else osp.dirname(args.work_dir)
    out = args.out or osp.join(folder, 'ba2m_weights.png')
    plot_ba2m_weights(series, out, smoothing=args.smoothing)
    print(f'read {file}: {len(series)} BA2M module(s)')
    print(f'wrote {out}')
    try:
        shares = plot_branch_shares(
            series,
            osp.join(osp.dirname(osp.abspath(out)), 'ba2m_branch_shares.png'),
            smoothing=args.smoothing)
        print(f'wrote {shares}')
    except ValueError as e:  # no share_<branch> logged (older runs)
        print(f'no branch-share picture: {e}')
    return out


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
