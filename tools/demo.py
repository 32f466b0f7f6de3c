"""The offline demo (`make demo`): BA2M Mask R-CNN on the digits set, on CPU.

1. Builds the digits instance-segmentation set into ``data/digits_demo/`` if it
   is missing (scikit-learn's load_digits scans, no download).
2. Trains ``configs/demo_mask_rcnn_r18_ba2m_digits.py`` from scratch with
   mmengine's Runner (work dir ``work_dirs/demo_mask_rcnn_r18_ba2m_digits``).
3. Evaluates on the val split with mmdet's CocoMetric (bbox and segm mAP,
   pycocotools) and prints a result table.

``--compare`` also trains the plain ResNet-18 twin under the same budget and
seed (`make demo-compare`); ``--arms`` picks any arms, e.g. ``--arms ba2m
ba2m_softmax`` for the softmax vs scaled_softmax experiment.

Examples:
    python tools/demo.py
    python tools/demo.py --compare
    python tools/demo.py --arms ba2m ba2m_softmax --max-epochs 4
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Dict, Optional

# Idle OpenMP threads sleep instead of spinning. Must be set before torch starts
# OpenMP. On a shared 2-core machine this sped training up ~10x (0.6-1.2 s vs 6-8 s
# an iteration, measured under load); not measured on an idle machine.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from ba2m_mm.datasets import build_digits_coco  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BA2M_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_ba2m_digits.py')
PLAIN_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_plain_digits.py')
# name -> (config, cfg-options, label in the table)
ARMS = {
    'ba2m': (BA2M_CONFIG, {}, 'BA2M R-18 (scaled_softmax)'),
    'plain': (PLAIN_CONFIG, {}, 'plain R-18'),
    'ba2m_softmax': (BA2M_CONFIG, {
        'model.backbone.ba2m_cfg.normalize': 'softmax'
    }, 'BA2M R-18 (softmax)'),
}
METRICS = (('coco/bbox_mAP', 'bbox mAP'), ('coco/bbox_mAP_50', 'bbox mAP50'),
           ('coco/segm_mAP', 'segm mAP'), ('coco/segm_mAP_50', 'segm mAP50'))


def parse_args():
    parser = argparse.ArgumentParser(
        description='Offline CPU demo: train and evaluate BA2M Mask R-CNN on the digits set.')
    parser.add_argument(
        '--compare',
        action='store_true',
        help='also run the plain ResNet-18 twin (same budget and seed)')
    parser.add_argument(
        '--arms',
        nargs='+',
        choices=sorted(ARMS),
        help='arms to run (default: ba2m, plus plain with --compare)')
    parser.add_argument(
        '--data-root',
        default=osp.join(REPO, 'data', 'digits_demo'),
        help='digits set; built here if missing')
    parser.add_argument(
        '--work-dir-root',
        default=osp.join(REPO, 'work_dirs'),
        help='each arm trains in WORK_DIR_ROOT/demo_<arm>')
    parser.add_argument(
        '--num-train', type=int, default=600, help='training images when the set is built')
    parser.add_argument(
        '--num-val', type=int, default=150, help='validation images when the set is built')
    parser.add_argument('--max-epochs', type=int, help='override the config schedule length')
    parser.add_argument('--seed', type=int, default=0, help='training seed (all arms)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='extra config overrides for every arm (mmengine syntax)')
    return parser.parse_args()


def ensure_data(data_root: str, num_train: int = 600, num_val: int = 150, **kwargs) -> Dict:
    """Build the digits set under ``data_root`` unless both annotation files exist.

    Returns:
        dict: Number of images per split, ``built`` (bool).
    """
    ann_files = [
        osp.join(data_root, 'annotations', f'instances_{s}.json') for s in ('train', 'val')
    ]
    if all(osp.isfile(f) for f in ann_files):
        counts = {}
        for split, ann_file in zip(('train', 'val'), ann_files):
            with open(ann_file) as f:
                counts[split] = len(json.load(f)['images'])
        print(f'Using the digits set in {data_root} ({counts["train"]} train / {counts["val"]} '
              'val images); delete it to rebuild.')
        return dict(counts, built=False)
    print(f'Building the digits demo set in {data_root} (scikit-learn load_digits, offline) ...')
    summary = build_digits_coco(data_root, num_train=num_train, num_val=num_val, **kwargs)
    return dict(train=summary['train']['num_images'], val=summary['val']['num_images'], built=True)


def arm_config(arm: str,
               data_root: str,
               work_dir: str,
               max_epochs: Optional[int] = None,
               seed: int = 0,
               cfg_options: Optional[Dict] = None) -> Config:
    """Config of one demo arm, pointed at ``data_root`` and ``work_dir``.

    Validation during training is switched off; the demo evaluates once, after
    training, through the test loop (same val split, same CocoMetric).
    """
    if arm not in ARMS:
        raise ValueError(f'arm must be one of {sorted(ARMS)}, got {arm!r}')
    config, options, _ = ARMS[arm]
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    data_root = osp.join(data_root, '')
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = data_root
    cfg.test_evaluator.ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    if max_epochs is not None:
        # Stretch the schedule: epoch-based steps to the new length, iteration-
        # based steps (after warmup) by the same factor.
        scale = max_epochs / cfg.train_cfg.max_epochs
        cfg.train_cfg.max_epochs = max_epochs
        cfg.default_hooks.checkpoint.interval = max_epochs
        for scheduler in cfg.param_scheduler:
            if 'milestones' in scheduler:
                scheduler.milestones = [max(1, round(m * scale)) for m in scheduler.milestones]
                scheduler.end = max(1, round(scheduler.end * scale))
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.train_cfg.pop('val_interval', None)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    return cfg


def run_arm(arm: str, data_root: str, work_dir: str, **kwargs) -> Dict:
    """Train one arm and evaluate it on the val split.

    Args:
        arm (str): Key of :data:`ARMS`.
        data_root (str): Digits set directory.
        work_dir (str): Runner work dir (logs, checkpoint).
        **kwargs: ``max_epochs``, ``seed``, ``cfg_options`` of
            :func:`arm_config`.

    Returns:
        dict: ``arm``, ``label``, ``metrics`` (CocoMetric output),
        ``train_time``/``test_time`` (s), ``iters``, ``work_dir``.
    """
    cfg = arm_config(arm, data_root, work_dir, **kwargs)
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_time = time.perf_counter() - start
    start = time.perf_counter()
    metrics = runner.test()
    test_time = time.perf_counter() - start
    return dict(
        arm=arm,
        label=ARMS[arm][2],
        metrics={
            k: float(v)
            for k, v in metrics.items()
        },
        train_time=train_time,
        test_time=test_time,
        iters=runner.iter,
        epochs=cfg.train_cfg.max_epochs,
        work_dir=work_dir)


def format_table(results) -> str:
    """Markdown table of the arms' COCO metrics and times."""
    header = ['arm'] + [name for _, name in METRICS] + ['train (s)', 'test (s)', 'iters']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for r in results:
        cells = [r['label']] + [f'{r["metrics"].get(key, float("nan")):.3f}' for key, _ in METRICS]
        cells += [f'{r["train_time"]:.0f}', f'{r["test_time"]:.0f}', str(r['iters'])]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main():
    args = parse_args()
    arms = args.arms or (['ba2m', 'plain'] if args.compare else ['ba2m'])
    total = time.perf_counter()
    data = ensure_data(args.data_root, args.num_train, args.num_val)
    results = []
    for arm in arms:
        print(f'\n=== demo arm {arm}: {ARMS[arm][2]} ===', flush=True)
        work_dir = osp.join(args.work_dir_root, f'demo_{arm}')
        results.append(
            run_arm(
                arm,
                args.data_root,
                work_dir,
                max_epochs=args.max_epochs,
                seed=args.seed,
                cfg_options=args.cfg_options))
    table = format_table(results)
    os.makedirs(args.work_dir_root, exist_ok=True)
    out = osp.join(args.work_dir_root, 'demo_results.json')
    with open(out, 'w') as f:
        json.dump(dict(data=data, threads=torch.get_num_threads(), results=results), f, indent=2)
    print(f'\nDigits demo: {data["train"]} train / {data["val"]} val images, '
          f'CPU ({torch.get_num_threads()} threads), seed {args.seed}, '
          f'total {time.perf_counter() - total:.0f} s')
    print(table)
    print(f'(results also in {out})')


if __name__ == '__main__':
    main()
