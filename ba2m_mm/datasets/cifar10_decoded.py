"""CIFAR-10 from the shared JPEG archive, decoded once per split into arrays in memory.

The JPEG set and its fixed splits are those of :mod:`.cifar10_jpeg` (``meta/{train,val,
test}.txt``: 45,000 / 5,000 / 10,000 images). Decoding a 32x32 JPEG at every step costs
as much as a small network's forward, so this dataset decodes each split once, keeps it in
``<data_root>/decoded/<split>.npz`` (uint8 RGB, 138 MB for ``train``) and hands the
pipeline arrays, as mmpretrain's ``CIFAR10`` does with the python release. Any entry point
that builds it (``tools/train.py``, ``tools/test.py``, the launchers, ``tools/compare.py``)
prepares the data the same way: extract the archive if ``data_root`` has no images, write
the split lists, decode.
"""
import hashlib
import os
import os.path as osp
from typing import List, Optional

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .cifar10_jpeg import CIFAR10_CLASSES, SPLITS, ensure_cifar10_jpeg

OFFICIAL_CONFIG = 'configs/resnet18_ba2m_1xb128_cifar10_official.py'


def _missing_data_message(data_root: str, archive: Optional[str]) -> str:
    return (f'CIFAR-10 JPEG set not found at {data_root!r} and its archive '
            f'{archive!r} does not exist. Get cifar10-jpeg.tar.gz (shared/data/ beside the '
            'repository) and either pass it (archive=... in the dataset config, or '
            '--archive with tools/compare.py) or prepare the data yourself: '
            f'tar -xzf cifar10-jpeg.tar.gz -C {osp.dirname(data_root.rstrip("/")) or "."} && '
            'python -c "from ba2m_mm.datasets import make_cifar10_splits as m; '
            f'm(\'{data_root.rstrip("/")}\')". The official python release of CIFAR-10 needs '
            f'none of this: {OFFICIAL_CONFIG}.')


def decode_cifar10_split(data_root: str, split: str, archive: Optional[str] = None) -> tuple:
    """Images and labels of one split, decoded once and cached.

    Args:
        data_root (str): The CIFAR-10 JPEG folder (``train/``, ``test/``,
            ``meta/``); prepared from ``archive`` when it has no images.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        archive (str, optional): ``cifar10-jpeg.tar.gz``, extracted when
            ``data_root`` has no images. Defaults to None.

    Returns:
        tuple: uint8 RGB images (N, 32, 32, 3) and int64 labels (N,), in the
        order of ``meta/<split>.txt``.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    meta = osp.join(data_root, 'meta', f'{split}.txt')
    if not osp.isfile(meta):
        have_archive = archive is not None and osp.isfile(archive)
        if not osp.isdir(osp.join(data_root, 'train')) and not have_archive:
            raise FileNotFoundError(_missing_data_message(data_root, archive))
        ensure_cifar10_jpeg(data_root, archive)
    with open(meta, 'rb') as f:
        listing = f.read()
    digest = hashlib.sha1(listing).hexdigest()[:16]  # the cache follows the split list
    cache = osp.join(data_root, 'decoded', f'{split}-{digest}.npz')
    if osp.isfile(cache):
        with np.load(cache) as arrays:
            return arrays['images'], arrays['labels']
    from PIL import Image
    items = [line.split() for line in listing.decode().splitlines() if line.strip()]
    images = np.empty((len(items), 32, 32, 3), dtype=np.uint8)
    for i, (path, _) in enumerate(items):
        with Image.open(osp.join(data_root, path)) as image:
            images[i] = np.asarray(image.convert('RGB'))
    labels = np.array([int(label) for _, label in items], dtype=np.int64)
    os.makedirs(osp.dirname(cache), exist_ok=True)
    tmp = f'{cache}.{os.getpid()}.tmp.npz'
    np.savez(tmp, images=images, labels=labels)
    os.replace(tmp, cache)  # two runs may decode at once: each writes whole files
    return images, labels


@DATASETS.register_module()
class CIFAR10Decoded(BaseDataset):
    """CIFAR-10 from ``cifar10-jpeg.tar.gz``, decoded once, served as arrays.

    Each item is ``dict(img=<32x32x3 uint8 RGB>, gt_label=<int>)``, like
    mmpretrain's ``CIFAR10`` (so the pipeline has no ``LoadImageFromFile`` and
    the data preprocessor no ``to_rgb``).

    Args:
        data_root (str): Folder of the JPEG set, e.g. ``'data/cifar10/'``.
        split (str): ``'train'`` (45,000), ``'val'`` (5,000 held out of the
            official training set, 500 per class) or ``'test'`` (the official
            10,000). Defaults to ``'train'``.
        archive (str, optional): The archive, extracted into ``data_root``
            when that holds no images. Defaults to None (a missing set is then
            an error that says how to prepare it).
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``pipeline``, ``indices``, ``test_mode``, ...).
    """

    METAINFO = {'classes': CIFAR10_CLASSES}

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 archive: Optional[str] = None,
                 **kwargs):
        if split not in SPLITS:
            raise ValueError(f'CIFAR10Decoded: split must be one of {SPLITS}, got {split!r}')
        self.split = split
        self.archive = archive
        kwargs.setdefault('serialize_data', False)  # arrays already: no pickled copy
        super().__init__(ann_file='', data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        images, labels = decode_cifar10_split(self.data_root, self.split, self.archive)
        return [dict(img=img, gt_label=int(label)) for img, label in zip(images, labels)]

    def extra_repr(self) -> List[str]:
        return [f'Split: \t{self.split}', f'Archive: \t{self.archive}']


__all__ = ['CIFAR10Decoded', 'decode_cifar10_split']
