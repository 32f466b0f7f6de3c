"""t-SNE of backbone features, plain vs BA2M side by side (the paper's Fig. 1).

Features of the last backbone stage in eval mode: one per ground-truth object
(RoIAlign over its box) for detection data, one per image for classification data;
embedded with scikit-learn's TSNE, with each panel's silhouette score by class
(:func:`ba2m_mm.visualization.plot_tsne_comparison`). The images are drawn stratified by
class with ``--seed`` (the same for every model); fewer than 2 classes is an error.

Example::

    python tools/analysis/tsne.py configs/demo_mask_rcnn_r18_ba2m_digits.py \\
        work_dirs/demo_ba2m/epoch_12.pth \\
        --compare configs/demo_mask_rcnn_r18_plain_digits.py \\
        work_dirs/demo_plain/epoch_12.pth --out work_dirs/tsne.png
"""
import argparse
import os
import os.path as osp
import sys

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks
from ba2m_mm.launch import add_unsafe_load_arg, apply_unsafe_load_arg
from ba2m_mm.visualization import (boxes_of, build_model_and_loader, embed, extract_features,
                                   fix_pipeline, plot_tsne_comparison)

# Re-exported: tests and scripts that imported them from this tool.
__all__ = [
    'boxes_of', 'build_model_and_loader', 'embed', 'extract_features', 'fix_pipeline', 'main'
]


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--compare',
        nargs=2,
        metavar=('CONFIG2', 'CHECKPOINT2'),
        help='a second model (e.g. the plain twin), plotted beside the first')
    parser.add_argument(
        '--split',
        default='val',
        choices=('train', 'val', 'test'),
        help='dataloader of the config to use. Default: val')
    parser.add_argument(
        '--out',
        default=osp.join('work_dirs', 'tsne.png'),
        help='output PNG. Default: work_dirs/tsne.png')
    parser.add_argument(
        '--max-items',
        type=int,
        default=2000,
        help='at most this many objects/images per model, drawn stratified by class (seeded '
        'with --seed). Default: 2000')
    parser.add_argument('--batch-size', type=int, default=4, help='Default: 4')
    parser.add_argument('--perplexity', type=float, default=30.0, help='Default: 30')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the t-SNE and of the draw. Default: 0')
    parser.add_argument('--device', default=None, help='Default: cuda if available, else cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config(s), key=value')
    add_unsafe_load_arg(parser)
    return parser.parse_args(argv)


def main(argv=None) -> str:
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    apply_unsafe_load_arg(args)
    if args.device is None:
        import torch
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    runs = [(args.config, args.checkpoint)] + ([tuple(args.compare)] if args.compare else [])
    out = plot_tsne_comparison(
        runs,
        args.out,
        split=args.split,
        max_items=args.max_items,
        batch_size=args.batch_size,
        perplexity=args.perplexity,
        seed=args.seed,
        device=args.device,
        cfg_options=args.cfg_options)
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
    sys.exit(0)
