"""Backbone features of a trained model, one per object (detection) or image (classification).

Features come from the last backbone stage in eval mode (BA2M is then the identity, so
the features are those the trained weights produce at inference):

- detection/instance segmentation data (samples with ``gt_instances``): one feature per
  ground-truth object, RoIAlign (``mmcv.ops``, 7x7) of the last stage over the object's
  box, averaged, with the object's class;
- classification data (samples with ``gt_label``): one globally pooled feature per
  image, with its label.
"""
import copy
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config

# Transforms after which LoadAnnotations would leave boxes in original-image coordinates.
GEOMETRIC = ('Resize', 'RandomResize', 'RandomChoiceResize', 'FixShapeResize', 'RandomFlip',
             'RandomCrop', 'Pad', 'RandomAffine', 'Expand', 'MinIoURandomCrop')


def fix_pipeline(pipeline: List[dict]) -> List[dict]:
    """Load the annotations before any geometric transform, so that the GT boxes
    follow the image (mmdet's test pipelines load them after ``Resize``).

    Args:
        pipeline (list[dict]): A dataset pipeline.

    Returns:
        list[dict]: A reordered copy.
    """
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
                           split: str = 'val',
                           batch_size: int = 4,
                           cfg_options: Optional[dict] = None,
                           device: str = 'cpu'):
    """The config's model with its checkpoint loaded safely (eval mode), and a
    dataloader of ``split`` (no workers, annotations loaded before resizing).

    Args:
        config (str): Config file.
        checkpoint (str): Checkpoint file (loaded with :func:`ba2m_mm.checkpoint.load_weights`;
            tensors of other shapes fail).
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to ``'val'``.
        batch_size (int): Defaults to 4.
        cfg_options (dict, optional): Overrides merged into the config.
        device (str): Defaults to ``'cpu'``.

    Returns:
        tuple: The model and the dataloader.
    """
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
        raise ValueError(f'split {split!r}: config {config} has no {key}')
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
    """The GT boxes of a detection data sample, (K, 4) x1 y1 x2 y2."""
    bboxes = sample.gt_instances.bboxes
    return getattr(bboxes, 'tensor', bboxes).float()


@torch.no_grad()
def extract_features(model,
                     loader,
                     max_items: Optional[int] = None,
                     desc: str = 'features') -> Tuple[np.ndarray, np.ndarray]:
    """Features of the last backbone stage and their class ids.

    Args:
        model: A model of :func:`build_model_and_loader`.
        loader: Its dataloader.
        max_items (int, optional): Stop after the batch that reaches this many items.
        desc (str): Progress-bar label.

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
                             '(classification); use a split with annotations (split="val")')
        count += len(labels[-1])
        if max_items and count >= max_items:
            break
    if not feats:
        raise ValueError('no annotated object/image found in the split')
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()
