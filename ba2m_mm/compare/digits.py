"""The digits testbed of the offline demo: arms, data and the per-run config."""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config

from ..datasets import build_digits_coco
from .experiment import Arm

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BA2M_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_ba2m_digits.py')
PLAIN_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_plain_digits.py')
DIGITS_ARMS = {
    'ba2m':
    Arm('ba2m', BA2M_CONFIG, {}, 'BA2M R-18'),
    'plain':
    Arm('plain', PLAIN_CONFIG, {}, 'plain R-18'),
    'ba2m_softmax':
    Arm('ba2m_softmax', BA2M_CONFIG, {'model.backbone.ba2m_cfg.normalize': 'softmax'},
        'BA2M R-18 (softmax)'),
}
# Measured on the demo (3 seeds' seed 0, both batch sizes): silhouettes -0.07 / -0.06.
TSNE_CAPTION = ('One point per ground-truth digit of the val split (backbone features pooled '
                'in its box). A silhouette near 0: the backbone of a detector trained from '
                'scratch for 300 steps shows no digit-class structure, BA2M or not; the class '
                'is decided in the RoI head.')
# Metrics of the demo's tables; the comparison is about the first.
DIGITS_METRICS = ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP_50')


def ensure_digits(data_root: str, num_train: int = 600, num_val: int = 150, **kwargs) -> Dict:
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


def digits_config(arm: Arm,
                  data_root: str,
                  work_dir: str,
                  max_epochs: Optional[int] = None,
                  seed: int = 0,
                  cfg_options: Optional[Dict] = None,
                  batch_size: Optional[int] = None) -> Config:
    """Config of one demo arm, pointed at ``data_root`` and ``work_dir``.

    Validation during training is switched off; the demo evaluates once, after
    training, through the test loop (the val split, mmdet's CocoMetric).

    ``batch_size`` (images per training batch) keeps the budget in images
    seen: the number of epochs stays, and every iteration-based boundary of
    the learning-rate schedule (warm-up end, milestones) is multiplied by
    ``config batch / batch_size``, so it falls after the same number of
    images. The learning rate itself is not changed.
    """
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f'batch_size must be an int >= 1, got {batch_size!r}')
    cfg = Config.fromfile(arm.config)
    cfg.merge_from_dict(arm.cfg_options)
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
    if batch_size is not None and batch_size != cfg.train_dataloader.batch_size:
        factor = cfg.train_dataloader.batch_size / batch_size  # iterations per image seen
        for scheduler in cfg.param_scheduler:
            if scheduler.get('by_epoch', True):
                continue
            for key in ('begin', 'end'):
                if key in scheduler:
                    scheduler[key] = round(scheduler[key] * factor)
            if 'milestones' in scheduler:
                scheduler.milestones = [max(1, round(m * factor)) for m in scheduler.milestones]
        cfg.train_dataloader.batch_size = batch_size
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.train_cfg.pop('val_interval', None)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    return cfg


def _run_files(work_dir: str) -> tuple:
    """The config the Runner dumped in ``work_dir`` and its last checkpoint."""
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    checkpoints = sorted(
        glob.glob(osp.join(work_dir, 'epoch_*.pth')), key=lambda p: int(osp.basename(p)[6:-4]))
    return (configs[0] if configs else None), (checkpoints[-1] if checkpoints else None)


def demo_pictures(report: Dict, out_dir: str, tsne: bool = True) -> List[str]:
    """Pictures of a demo comparison; returns their paths.

    - per BA2M run of the first seed: the batch weights per stage over training
      (smoothed over the faint raw trace) and the branch shares, in its work dir;
    - with a BA2M and a plain run of the same seed and batch size: a t-SNE of their
      backbone features on the val split, side by side (``demo_tsne.png``).
    """
    from ..visualization import plot_ba2m_weights, plot_branch_shares, plot_tsne_comparison
    results = report['results']
    first_seed = results[0]['seed'] if results else None
    pictures = []
    for r in results:
        if r['seed'] == first_seed and r.get('weight_spread'):
            pictures.append(
                plot_ba2m_weights(r['log_dir'], osp.join(r['work_dir'], 'ba2m_weights.png')))
            pictures.append(
                plot_branch_shares(r['log_dir'], osp.join(r['work_dir'], 'ba2m_branch_shares.png')))
    by_arm = {r['arm']: r for r in results if r['seed'] == first_seed}
    if tsne and 'plain' in by_arm and 'ba2m' in by_arm:
        runs = [_run_files(by_arm[a]['work_dir']) for a in ('ba2m', 'plain')]
        if all(all(files) for files in runs):
            pictures.append(
                plot_tsne_comparison(
                    runs,
                    osp.join(out_dir, 'demo_tsne.png'),
                    split='test',
                    titles=[by_arm['ba2m']['label'], by_arm['plain']['label']],
                    caption=TSNE_CAPTION,
                    verbose=False))
    return pictures
