"""The CPU detection testbed: the paper's Focal-loss (Table III) and OHEM (Table IV)
comparisons on the digits set, as twins (``tools/compare.py --preset det-testbed-*``).

The twins (configs/lab/*_digits_testbed.py) differ only in what the paper varies:

- ``det-testbed-retinanet`` (Table III): RetinaNet with Focal loss (the standard), with a
  softmax cross-entropy and an anchor sampler (the paper's "SoftmaxLoss"), BA2M with the
  cross-entropy (the paper's row) and BA2M with Focal loss. Focal minus cross-entropy is
  the positive control: a reweighting effect known to be large.
- ``det-testbed-faster`` (Table IV): Faster R-CNN plain, with OHEM, and with BA2M.

The data is the digits set with a test split of its own scans
(:func:`~ba2m_mm.datasets.build_digits_coco` with ``num_test``), built once under
``data/digits_testbed`` of the repository.
"""
import json
import os.path as osp
from typing import Dict, List

from .experiment import Arm

# The set of every arm: 800 / 200 / 200 images of 128x128 from disjoint scan pools, seed 0
DIGITS_TESTBED = dict(num_train=800, num_val=200, num_test=200, seed=0)
DET_METRICS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'pascal_voc/mAP')
_ARMS = {
    'det-testbed-retinanet': (
        ('focal', 'retinanet_r18_focal', 'Focal loss'),
        ('ce', 'retinanet_r18_ce', 'softmax CE'),
        ('ba2m_ce', 'retinanet_r18_ba2m_ce', 'BA2M + softmax CE'),
        ('ba2m_focal', 'retinanet_r18_ba2m_focal', 'BA2M + Focal loss'),
    ),
    'det-testbed-faster': (
        ('plain', 'faster_rcnn_r18', 'plain'),
        ('ohem', 'faster_rcnn_r18_ohem', 'OHEM'),
        ('ba2m', 'faster_rcnn_r18_ba2m', 'BA2M'),
    ),
}
DET_PRESETS = tuple(_ARMS)
# The reference of each preset's paired differences: the paper's baseline row
DET_REFERENCES = {'det-testbed-retinanet': 'focal', 'det-testbed-faster': 'plain'}


def det_testbed_arms(name: str, configs: str) -> List[Arm]:
    """The arms of the preset ``name`` with the configs of ``configs/lab`` under the
    folder ``configs``."""
    if name not in _ARMS:
        raise ValueError(f'preset must be one of {DET_PRESETS}, got {name!r}')
    return [
        Arm(arm, osp.join(configs, 'lab', f'{stem}_digits_testbed.py'), {}, label)
        for arm, stem, label in _ARMS[name]
    ]


def ensure_digits_testbed(data_root: str) -> Dict:
    """Build the testbed's digits set under ``data_root`` unless its three annotation
    files exist; returns the number of images per split."""
    from ..datasets import build_digits_coco
    ann_files = {
        split: osp.join(data_root, 'annotations', f'instances_{split}.json')
        for split in ('train', 'val', 'test')
    }
    if not all(osp.isfile(f) for f in ann_files.values()):
        print(f'[compare] building the digits testbed set in {data_root} ...')
        build_digits_coco(data_root, progress=False, **DIGITS_TESTBED)
    counts = {}
    for split, ann_file in ann_files.items():
        with open(ann_file) as f:
            counts[split] = len(json.load(f)['images'])
    expected = {k[4:]: v for k, v in DIGITS_TESTBED.items() if k.startswith('num_')}
    if counts != expected:
        raise SystemExit(f'--data-root {data_root!r} holds a digits set of {counts} images, '
                         f'not the testbed\'s {expected}: delete it to rebuild')
    return counts


def digits_cfg_options(data_root: str) -> Dict:
    """cfg-options that point every testbed config's datasets and COCO evaluators at
    ``data_root``."""
    root = osp.join(osp.abspath(data_root), '')
    options = {f'{split}_dataloader.dataset.data_root': root for split in ('train', 'val', 'test')}
    for split in ('val', 'test'):
        options[f'{split}_evaluator.0.ann_file'] = f'{root}annotations/instances_{split}.json'
    return options
