"""t-SNE of backbone features, plain vs BA2M side by side (the paper's Fig. 1).

Features come from the last backbone stage in eval mode (BA2M is then the
identity, so the features are those the trained weights produce at
inference):

- detection/instance segmentation data (samples with ``gt_instances``): one
  feature per ground-truth object, RoIAlign (``mmcv.ops``, 7x7) of the last
  stage over the object's box, averaged, coloured by the object's class;
- classification data (samples with ``gt_label``): one globally pooled
  feature per image, coloured by its label.

The features are embedded with scikit-learn's ``TSNE`` (PCA init, fixed seed)
and plotted per model; each panel also gives the silhouette score of the
features by class (cosine, computed on the features, not the embedding;
higher = classes better separated).

Example::

    python tools/analysis/tsne.py configs/demo_mask_rcnn_r18_ba2m_digits.py \\
        work_dirs/demo_ba2m/epoch_12.pth \\
        --compare configs/demo_mask_rcnn_r18_plain_digits.py \\
        work_dirs/demo_plain/epoch_12.pth --out work_dirs/tsne.png
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction

# Transforms after which LoadAnnotations would leave boxes in original-image coordinates.
GEOMETRIC = ('Resize', 'RandomResize', 'RandomChoiceResize', 'FixShapeResize', 'RandomFlip',
             'RandomCrop', 'Pad', 'RandomAffine', 'Expand', 'MinIoURandomCrop')


def fix_pipeline(pipeline: List[dict]) -> List[dict]:
    """Load the annotations before any geometric transform, so that the GT boxes
    follow the image (mmdet's test pipelines load them after ``Resize``)."""
    pipeline = copy.deepcopy(list(pipeline))
    names = [t.get('type', '') if isinstance(t, dict) else '' for t in pipeline]
    if 'LoadAnnotations' not in names:
        return pipeline
    idx = names.index('LoadAnnotations')
    first_geo = next((i for i, n in enumerate(names) if n.split('.')[-1] in GEOMETRIC), None)
    if first_geo is not None and first_geo < idx:
        transform = pipeline.pop(idx)
        pipeline.insert(first_geo, transform)
    return pipeline


def build_model_and_loader(config: str,
                           checkpoint: str,
                           split: str,
                           batch_size: int,
                           cfg_options: Optional[dict] = None,
                           device: str = 'cpu'):
    """Model with its checkpoint loaded (eval mode) and the split's dataloader."""
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import Runner

    from ba2m_mm.checkpoint import load_weights
    if not osp.exists(config):
        raise FileNotFoundError(f'config {config!r} not found')
    if not osp.exists(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} not found')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    key = f'{split}_dataloader'
    if not cfg.get(key):
        raise ValueError(f'--split {split!r}: config {config} has no {key}')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    load_weights(model, checkpoint, map_location='cpu')  # safe; other shapes fail
    model.to(device).eval()
    loader_cfg = copy.deepcopy(cfg[key])
    loader_cfg['batch_size'] = batch_size
    loader_cfg['num_workers'] = 0
    loader_cfg.pop('persistent_workers', None)
    dataset = loader_cfg['dataset']
    while 'dataset' in dataset and 'pipeline' not in dataset:  # dataset wrappers
        dataset = dataset['dataset']
    if 'pipeline' in dataset:
        dataset['pipeline'] = fix_pipeline(dataset['pipeline'])
    loader = Runner.build_dataloader(loader_cfg)
    return model, loader


def boxes_of(sample) -> torch.Tensor:
    bboxes = sample.gt_instances.bboxes
    return getattr(bboxes, 'tensor', bboxes).float()  # (K, 4) x1 y1 x2 y2


@torch.no_grad()
def extract_features(model,
                     loader,
                     max_items: Optional[int] = None,
                     desc: str = 'features') -> Tuple[np.ndarray, np.ndarray]:
    """Features of the last backbone stage and their class ids.

    Returns:
        tuple[ndarray, ndarray]: features (M, C) and labels (M,).
    """
    from mmcv.ops import roi_align
    from tqdm import tqdm
    feats, labels = [], []
    count = 0
    for data in tqdm(loader, desc=desc, unit='batch'):
        data = model.data_preprocessor(data, False)
        inputs, samples = data['inputs'], data['data_samples']
        last = model.backbone(inputs)[-1]  # (B, C, h, w)
        if 'gt_instances' in samples[0]:
            rois = [
                torch.cat([boxes.new_full((len(boxes), 1), i), boxes], 1) for i, boxes in enumerate(
                    boxes_of(s).to(last.device) for s in samples)
            ]
            rois = torch.cat(rois)  # (K, 5) batch index, x1, y1, x2, y2
            if len(rois) == 0:
                continue
            scale = last.size(-1) / inputs.size(-1)
            pooled = roi_align(last, rois, (7, 7), scale, 0, 'avg', True)  # (K, C, 7, 7)
            feats.append(pooled.mean(dim=(2, 3)).cpu())  # (K, C)
            labels.append(torch.cat([s.gt_instances.labels.cpu() for s in samples]))
        elif 'gt_label' in samples[0]:
            feats.append(last.mean(dim=(2, 3)).cpu())  # (B, C)
            labels.append(torch.cat([s.gt_label.view(-1)[:1].cpu() for s in samples]))
        else:
            raise ValueError('data samples have neither gt_instances (detection) nor gt_label '
                             '(classification); use a split with annotations (--split val)')
        count += len(labels[-1])
        if max_items and count >= max_items:
            break
    if not feats:
        raise ValueError('no annotated object/image found in the split')
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()


def embed(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE embedding of (M, C) features (scikit-learn, PCA init)."""
    from sklearn.manifold import TSNE
    if len(features) < 5:
        raise ValueError(f't-SNE needs at least 5 items, got {len(features)}')
    perplexity = min(perplexity, (len(features) - 1) / 3)
    return TSNE(
        n_components=2, init='pca', random_state=seed, perplexity=perplexity,
        learning_rate='auto').fit_transform(features)


def separation(features: np.ndarray, labels: np.ndarray) -> Optional[float]:
    """Silhouette score of the features by class (cosine), None if undefined."""
    from sklearn.metrics import silhouette_score
    if not 2 <= len(np.unique(labels)) < len(labels):
        return None
    return float(silhouette_score(features, labels, metric='cosine'))


def plot(panels: List[Dict], classes: Optional[List[str]], out: str):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5.6), squeeze=False)
    all_labels = np.unique(np.concatenate([p['labels'] for p in panels]))
    cmap = plt.get_cmap('tab10' if len(all_labels) <= 10 else 'tab20')
    for ax, panel in zip(axes[0], panels):
        for i, label in enumerate(all_labels):
            mask = panel['labels'] == label
            name = classes[label] if classes and label < len(classes) else str(label)
            ax.scatter(
                panel['embedding'][mask, 0],
                panel['embedding'][mask, 1],
                s=6,
                color=cmap(i % cmap.N),
                label=name)
        sil = panel['silhouette']
        ax.set_title(
            f'{panel["title"]}\n{len(panel["labels"])} items' +
            (f', silhouette {sil:.3f}' if sil is not None else ''),
            fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=7, markerscale=2, loc='center left', bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
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
        help='at most this many objects/images per model. Default: 2000')
    parser.add_argument('--batch-size', type=int, default=4, help='Default: 4')
    parser.add_argument('--perplexity', type=float, default=30.0, help='Default: 30')
    parser.add_argument('--seed', type=int, default=0, help='t-SNE seed. Default: 0')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config(s), key=value')
    from ba2m_mm.launch import add_unsafe_load_arg
    add_unsafe_load_arg(parser)
    return parser.parse_args(argv)


def main(argv=None) -> str:
    from ba2m_mm.launch import apply_unsafe_load_arg
    args = parse_args(argv)
    apply_unsafe_load_arg(args)
    runs = [(args.config, args.checkpoint)]
    if args.compare:
        runs.append(tuple(args.compare))
    panels, classes = [], None
    for config, checkpoint in runs:
        name = osp.splitext(osp.basename(config))[0]
        model, loader = build_model_and_loader(config, checkpoint, args.split, args.batch_size,
                                               args.cfg_options, args.device)
        classes = classes or list(loader.dataset.metainfo.get('classes', []) or []) or None
        feats, labels = extract_features(model, loader, args.max_items, desc=name)
        feats, labels = feats[:args.max_items], labels[:args.max_items]
        sil = separation(feats, labels)
        print(
            f'{name}: {len(labels)} items, {feats.shape[1]}-d features, '
            f'{len(np.unique(labels))} classes, silhouette (cosine) '
            f'{"n/a" if sil is None else f"{sil:.4f}"}; running t-SNE',
            flush=True)
        panels.append(
            dict(
                title=f'{name}\n{osp.basename(checkpoint)}',
                labels=labels,
                embedding=embed(feats, args.seed, args.perplexity),
                silhouette=sil))
        del model, loader
    plot(panels, classes, args.out)
    print(f'wrote {args.out}')
    return args.out


if __name__ == '__main__':
    main()
    sys.exit(0)
