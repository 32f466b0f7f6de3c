"""Parameters and FLOPs of a model config, deployed and in training.

BA2M is the identity in eval mode, so a deployed BA2M model costs exactly what
the plain network costs. In training it weights every sample of the batch,
and its three attention branches cost extra FLOPs. This tool reports both,
counted by ``mmengine.analysis.FlopAnalyzer`` (one multiply-add = one FLOP,
the convention of the paper's tables):

- deployed: ``model.eval()``, one image;
- training: ``model.train()``, a batch of ``--train-batch`` images (BA2M needs
  at least 2), divided per image. BatchNorm layers in training mode count a
  few more FLOPs than in eval mode, for the plain network too, so compare
  training FLOPs with training FLOPs.

Examples::

    python tools/analysis/get_flops.py configs/mask_rcnn_r50_ba2m_2x_coco.py
    python tools/analysis/get_flops.py CONFIG --shape 224 224
    python tools/analysis/get_flops.py --paper-table
    python tools/analysis/get_flops.py --paper-table --paper-settings cls light
"""
import argparse
import os
import os.path as osp
import sys

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks

# isort: split
from mmengine.config import Config, DictAction

from ba2m_mm.analysis.flops import build_model, complexity, describe
from ba2m_mm.analysis.paper_tables import format_paper_table, paper_table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs (deployed and training) of a model config.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input size H W (or one size for a square). Default: 800 1280 '
        'for detectors, 224 224 otherwise')
    parser.add_argument(
        '--train-batch',
        type=int,
        default=2,
        help='batch size of the training-mode analysis (>= 2; FLOPs are '
        'reported per image). Default: 2')
    parser.add_argument(
        '--paper-table',
        action='store_true',
        help='compare R18/34/50/101 and ResNeXt-50/101 +- BA2M (224x224, paper tables '
        'V/XII), DenseNet-100, ShuffleNetV2, MobileNetV2, EfficientNet-B0 +- BA2M on '
        'CIFAR-100 (32x32, table X) and Faster/Mask R-CNN R50/R101 +- BA2M (1280x800)')
    parser.add_argument(
        '--paper-settings',
        nargs='+',
        choices=('cls', 'light', 'det'),
        default=['cls', 'light', 'det'],
        help='rows of --paper-table: cls (ImageNet ResNet/ResNeXt), light (Table X '
        'lightweight nets), det (detectors, slowest). Default: all')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    args = parser.parse_args(argv)
    if not args.paper_table and not args.config:
        parser.error('give a CONFIG, or --paper-table')
    if args.shape is not None:
        if len(args.shape) == 1:
            args.shape = args.shape * 2
        if len(args.shape) != 2 or min(args.shape) < 32:
            parser.error(f'--shape takes H W (each >= 32) or one size, got {args.shape}')
    if args.train_batch < 2:
        parser.error(f'--train-batch must be >= 2 (BA2M is inactive on a batch of one), '
                     f'got {args.train_batch}')
    return args


def main(argv=None):
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args(argv)
    if args.paper_table:
        rows = paper_table(args.paper_settings, args.train_batch)
        print(format_paper_table(rows))
        return rows
    if not osp.exists(args.config):
        raise FileNotFoundError(f'config {args.config!r} not found')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg)
    result = complexity(model, args.shape, args.train_batch)
    print(describe(result, f'{args.config} ({type(model).__name__})'))
    return result


if __name__ == '__main__':
    main()
    sys.exit(0)
