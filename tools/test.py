"""Test (and evaluate) a BA2M detector (mmdet) or classifier (mmpretrain).

Same arguments as mmdet 3.3's ``tools/test.py`` (without ``--tta``); works
for mmpretrain configs too. Like ``tools/train.py`` it imports ``ba2m_mm``
itself and supports ``--launcher pytorch`` on a machine without CUDA.

Example::

    python tools/test.py configs/mask_rcnn_r50_ba2m_2x_coco.py work_dirs/x/epoch_24.pth
    bash tools/dist_test.sh configs/mask_rcnn_r50_ba2m_2x_coco.py epoch_24.pth 8 --out r.pkl
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import ba2m_mm  # noqa: F401  registers BA2M, BA2MResNet, hooks
from ba2m_mm.utils import (add_runner_args, allow_mmengine_checkpoint_loading, load_config,
                           parse_runner_args, register_scope_modules, setup_cpu_distributed)


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


def trigger_visualization(cfg: Config, scope: str, args) -> None:
    """Turn on the visualization hook, as mmdet's and mmpretrain's test.py do."""
    hooks = cfg.get('default_hooks', None) or {}
    if 'visualization' not in hooks:
        raise RuntimeError('--show/--show-dir need a VisualizationHook: set '
                           'default_hooks.visualization=dict(type=\'VisualizationHook\') in the '
                           'config.')
    if scope == 'mmdet':
        from mmdet.engine.hooks.utils import trigger_visualization_hook
        trigger_visualization_hook(cfg, args)
        return
    visualization = cfg.default_hooks.visualization
    visualization.enable = True
    visualization.show = args.show
    visualization.wait_time = args.wait_time
    if args.show_dir:
        visualization.out_dir = args.show_dir


def add_dump_metric(cfg: Config, scope: str, out: str) -> None:
    """Append a metric that dumps the predictions to ``out`` (.pkl)."""
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out={out!r}: the dump file must be a .pkl or .pickle file.')
    dump = dict(type='DumpDetResults' if scope == 'mmdet' else 'DumpResults', out_file_path=out)
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, (list, tuple)):
        cfg.test_evaluator = list(evaluator) + [dump]
    elif isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
        metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        evaluator['metrics'] = metrics + [dump]
    else:
        cfg.test_evaluator = [evaluator, dump]


def main():
    args = parse_args()

    cfg = load_config(args)

    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r}: no such file.')
    cfg.load_from = args.checkpoint

    scope = register_scope_modules(cfg)
    allow_mmengine_checkpoint_loading()

    if args.show or args.show_dir:
        trigger_visualization(cfg, scope, args)
    if args.out is not None:
        add_dump_metric(cfg, scope, args.out)

    setup_cpu_distributed(cfg, args.launcher)

    # build the runner from config
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    runner.test()


if __name__ == '__main__':
    main()
