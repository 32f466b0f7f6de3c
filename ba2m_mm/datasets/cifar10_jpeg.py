"""CIFAR-10 stored as JPEG files in a folder per class: extraction and fixed splits.

The archive (``shared/data/cifar10-jpeg.tar.gz``) holds ``cifar10/train/<class>/NNNN.jpg``
(50,000 images) and ``cifar10/test/<class>/NNNN.jpg`` (10,000). mmpretrain's
``CustomDataset`` reads that layout; this module writes the annotation lists it reads,
``meta/{train,val,test}.txt`` (``<path> <label>`` per line), with a validation split held
out of the training images by a seeded rule, so every choice can be made on ``val`` and
``test`` is read once, for the final comparison.
"""
import os
import os.path as osp
import random
import tarfile
from typing import Dict, List, Optional

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
                   'truck')
SPLITS = ('train', 'val', 'test')


def extract_cifar10_jpeg(archive: str, out_dir: str, per_class: Optional[int] = None) -> str:
    """Extract the archive (or a slice of it) into ``out_dir``.

    Args:
        archive (str): Path of ``cifar10-jpeg.tar.gz``.
        out_dir (str): Folder that receives ``cifar10/``.
        per_class (int, optional): Keep only the first ``per_class`` images
            of every class of each split (a small slice for tests and CI).
            Defaults to None (everything).

    Returns:
        str: The data root, ``out_dir/cifar10``.
    """
    if not osp.isfile(archive):
        raise FileNotFoundError(f'CIFAR-10 JPEG archive not found: {archive!r}')
    if per_class is not None and (not isinstance(per_class, int) or per_class < 1):
        raise ValueError(f'per_class must be None or an int >= 1, got {per_class!r}')
    kept: Dict[tuple, int] = {}
    with tarfile.open(archive, 'r:gz') as tar:
        members = []
        for member in tar:
            parts = member.name.split('/')
            if per_class is not None and member.isfile() and len(parts) == 4:
                key = (parts[1], parts[2])  # (split, class)
                if kept.get(key, 0) >= per_class:
                    continue
                kept[key] = kept.get(key, 0) + 1
            members.append(member)
        tar.extractall(out_dir, members=members, filter='data')
    return osp.join(out_dir, 'cifar10')


def _list_split(data_root: str, split: str) -> List[tuple]:
    """(relative path, label) of every image of ``split`` ('train' or 'test')."""
    items = []
    for label, name in enumerate(CIFAR10_CLASSES):
        folder = osp.join(data_root, split, name)
        if not osp.isdir(folder):
            raise FileNotFoundError(f'CIFAR-10 class folder missing: {folder!r}')
        items += [(f'{split}/{name}/{f}', label) for f in sorted(os.listdir(folder))
                  if f.endswith('.jpg')]
    return items


def make_cifar10_splits(data_root: str,
                        val_fraction: float = 0.1,
                        seed: int = 0,
                        overwrite: bool = False) -> Dict[str, int]:
    """Write ``meta/{train,val,test}.txt`` under ``data_root``.

    Rule: per class, the training images are shuffled with ``random.Random(seed)``
    and the first ``round(val_fraction * n)`` go to ``val`` (500 per class, 5,000 in
    all, on the full set). ``train.txt`` lists the rest in one seeded random order, so
    that a dataset's ``indices=K`` (mmengine) takes a random, roughly class-balanced
    subset of K images. ``test.txt`` is the official test split.

    Args:
        data_root (str): Folder with ``train/`` and ``test/``.
        val_fraction (float): Share of each class held out. Defaults to 0.1.
        seed (int): Seed of the rule. Defaults to 0.
        overwrite (bool): Rewrite existing lists. Defaults to False.

    Returns:
        dict: Number of images per split.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction must be in (0, 1), got {val_fraction!r}')
    meta = osp.join(data_root, 'meta')
    paths = {s: osp.join(meta, f'{s}.txt') for s in SPLITS}
    if not overwrite and all(osp.isfile(p) for p in paths.values()):
        return {s: sum(1 for _ in open(p)) for s, p in paths.items()}
    rng = random.Random(seed)
    train, val = [], []
    by_class: Dict[int, list] = {}
    for item in _list_split(data_root, 'train'):
        by_class.setdefault(item[1], []).append(item)
    for label in sorted(by_class):
        items = by_class[label]
        rng.shuffle(items)
        num_val = round(val_fraction * len(items))
        val += items[:num_val]
        train += items[num_val:]
    rng.shuffle(train)
    lists = dict(train=train, val=val, test=_list_split(data_root, 'test'))
    os.makedirs(meta, exist_ok=True)
    for split, items in lists.items():
        with open(paths[split], 'w') as f:
            f.writelines(f'{path} {label}\n' for path, label in items)
    return {s: len(items) for s, items in lists.items()}


def ensure_cifar10_jpeg(data_root: str,
                        archive: Optional[str] = None,
                        per_class: Optional[int] = None) -> Dict[str, int]:
    """The CIFAR-10 JPEG set at ``data_root`` with its split lists, extracting
    ``archive`` first if ``data_root`` has no ``train/`` folder.

    Returns:
        dict: Number of images per split.
    """
    if not osp.isdir(osp.join(data_root, 'train')):
        if archive is None:
            raise FileNotFoundError(
                f'No CIFAR-10 JPEG set at {data_root!r} and no archive given: extract '
                'cifar10-jpeg.tar.gz there (tar -xzf ../shared/data/cifar10-jpeg.tar.gz '
                '-C data/) or pass the archive')
        parent = osp.dirname(osp.abspath(data_root.rstrip('/')))
        extracted = extract_cifar10_jpeg(archive, parent, per_class)
        if osp.abspath(extracted) != osp.abspath(data_root.rstrip('/')):
            os.replace(extracted, data_root.rstrip('/'))
    return make_cifar10_splits(data_root)
