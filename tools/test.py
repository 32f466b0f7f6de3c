"""Test (and evaluate) a BA2M detector (mmdet) or classifier (mmpretrain).

Same arguments as mmdet 3.3's ``tools/test.py`` (without ``--tta``); works
for mmpretrain configs too. Like ``tools/train.py`` it imports ``ba2m_mm``
itself and supports ``--launcher pytorch`` on a machine without CUDA. The
checkpoint is loaded safely (``--unsafe-load`` opts in for a trusted file the safe
loader refuses) and must fit the config's model: other tensor shapes fail, naming
the file and the tensors.

Example::

    python tools/test.py configs/mask_rcnn_r50_ba2m_2x_coco.py work_dirs/x/epoch_24.pth
    bash tools/dist_test.sh configs/mask_rcnn_r50_ba2m_2x_coco.py epoch_24.pth 8 --out r.pkl
"""
import argparse
import os

if 'OMP_WAIT_POLICY' not in os.environ:  # the thread policy, before torch loads OpenMP
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'  # (ba2m_mm.thread_policy.THREAD_ENV)

import ba2m_mm  # registers the models and hooks
from ba2m_mm.checkpoint import check_tested_checkpoint, set_test_checkpoint
from ba2m_mm.launch import (add_dump_metric, add_runner_args, build_runner, enable_visualization,
                            load_config, parse_runner_args, register_scope_modules,
                            setup_cpu_distributed, teardown_cpu_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model with BA2M')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out', type=str, help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. If specified, it will be '
        'automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    return parse_runner_args(add_runner_args(parser))


def main():
    ba2m_mm.setup_runtime()  # thread policy, safe checkpoint loading
    args = parse_args()
    cfg = load_config(args)
    set_test_checkpoint(cfg, args.checkpoint)
    check_tested_checkpoint(cfg)
    scope = register_scope_modules(cfg)
    if args.show or args.show_dir:
        enable_visualization(cfg, scope, args)
    if args.out is not None:
        add_dump_metric(cfg, scope, args.out)
    setup_cpu_distributed(cfg, args.launcher)
    build_runner(cfg).test()
    teardown_cpu_distributed()


if __name__ == '__main__':
    main()
