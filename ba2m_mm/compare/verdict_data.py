"""CIFAR-10 for the GPU verdict: decoded once, held on the device, augmented there.

The splits are the testbed's (``meta/{train,val,test}.txt`` of
:mod:`ba2m_mm.datasets.cifar10_jpeg`) and the decode is :func:`decode_cifar10_split`'s, with
its cache (``<data_root>/decoded/<split>-<digest>.npz``): a data root prepared once is read
in a second. The images then stay on the device as uint8 (45,000 x 32 x 32 x 3 = 138 MB);
each training batch is gathered, cropped and flipped there (the testbed's ``RandomCrop``
with 4 pixels of zero padding and ``RandomFlip`` 0.5) and normalised by the config's data
preprocessor, so no host work or copy sits between two steps.
"""
import importlib.util
import os.path as osp
import sys
from typing import Dict, Optional, Tuple

import torch

PAD = 4  # RandomCrop(crop_size=32, padding=4) of the testbed's train pipeline
SIZE = 32


def cifar10_io() -> Tuple:
    """``(ensure_cifar10_jpeg, decode_cifar10_split, how)``.

    ``ba2m_mm.datasets``' ``__init__`` also imports the digits demo (cv2, pycocotools,
    tqdm), which a bare CUDA machine lacks. Where that import fails, the two CIFAR-10
    modules are loaded from the same package folder without running its ``__init__``
    (their own imports are numpy, PIL and mmpretrain's datasets); ``how`` says which.
    """
    try:
        from ba2m_mm.datasets import decode_cifar10_split, ensure_cifar10_jpeg
        return ensure_cifar10_jpeg, decode_cifar10_split, 'ba2m_mm.datasets'
    except ImportError as error:
        missing = getattr(error, 'name', None) or str(error)
    folder = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'datasets')
    spec = importlib.util.spec_from_file_location(
        'ba2m_mm.datasets', osp.join(folder, '__init__.py'), submodule_search_locations=[folder])
    sys.modules['ba2m_mm.datasets'] = importlib.util.module_from_spec(spec)  # not executed
    from ba2m_mm.datasets.cifar10_decoded import decode_cifar10_split
    from ba2m_mm.datasets.cifar10_jpeg import ensure_cifar10_jpeg
    return (ensure_cifar10_jpeg, decode_cifar10_split,
            f'ba2m_mm.datasets.cifar10_* without the package __init__ (no {missing})')


class DeviceSplit:
    """One split on the device: ``images`` uint8 (N, 32, 32, 3) RGB, ``labels`` int64 (N,).

    Args:
        images (Tensor): uint8 (N, 32, 32, 3).
        labels (Tensor): int64 (N,).
        mean, std (Sequence[float]): The data preprocessor's, per RGB channel (0-255).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean, std):
        self.images, self.labels = images, labels
        device = images.device
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)

    def __len__(self) -> int:
        return self.labels.numel()

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 32, 32, 3) -> float32 (B, 3, 32, 32), channels_last, normalised."""
        x = images.permute(0, 3, 1, 2).float()  # (B, 3, 32, 32), NHWC strides
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    def batch(self, start: int, stop: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Images ``start:stop`` as they are (evaluation), normalised; and their labels."""
        return self.normalise(self.images[start:stop]), self.labels[start:stop]

    def augmented(self, index: torch.Tensor,
                  generator: torch.Generator) -> Tuple[torch.Tensor, torch.Tensor]:
        """The images at ``index`` (B,), randomly cropped from the zero-padded image and
        flipped with probability 0.5 (draws from ``generator``), normalised; and labels."""
        b, device = index.numel(), self.images.device
        offsets = torch.randint(
            0, 2 * PAD + 1, (2, b), device=device, generator=generator)  # (2, B)
        flip = torch.rand(b, device=device, generator=generator) < 0.5  # (B,)
        ar = torch.arange(SIZE, device=device)  # (32,)
        rows = offsets[0, :, None] + ar  # (B, 32) rows of the padded image
        cols = torch.where(flip[:, None], offsets[1, :, None] + SIZE - 1 - ar,
                           offsets[1, :, None] + ar)  # (B, 32), reversed where flipped
        padded = torch.nn.functional.pad(self.images[index], (0, 0, PAD, PAD, PAD, PAD))
        # padded: (B, 40, 40, 3); one gather crops and flips: (B, 32, 32, 3)
        crops = padded[torch.arange(b, device=device)[:, None, None], rows[:, :, None],
                       cols[:, None, :]]
        return self.normalise(crops), self.labels[index]


def subset(n: int, limit: Optional[int], shuffle: bool) -> torch.Tensor:
    """Indices of the first ``limit`` of ``n`` items (all without a limit); with
    ``shuffle``, of a fixed permutation (seed 0: class-balanced on the class-ordered test
    list)."""
    if limit is None or limit >= n:
        return torch.arange(n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0)) if shuffle else \
        torch.arange(n)
    return order[:limit]


def load_splits(data_root: str,
                archive: Optional[str],
                evaluate: str,
                device: torch.device,
                mean,
                std,
                limit: Optional[int] = None) -> Tuple[Dict[str, DeviceSplit], Dict]:
    """The ``train`` split and the evaluated one (``'val'`` or ``'test'``) on ``device``.

    Args:
        data_root (str): The CIFAR-10 JPEG folder (prepared from ``archive`` if it has no
            images; the decode is cached under it).
        archive (str, optional): ``cifar10-jpeg.tar.gz``.
        evaluate (str): ``'val'`` or ``'test'``.
        device (torch.device): Where the images go.
        mean, std (Sequence[float]): The data preprocessor's normalisation.
        limit (int, optional): At most this many images per split (tests). Defaults to None.

    Returns:
        tuple: ``{'train': DeviceSplit, evaluate: DeviceSplit}`` and a description
        (sizes, data root, how the modules were loaded).
    """
    ensure, decode, how = cifar10_io()
    counts = ensure(data_root, archive)
    splits = {}
    for split in ('train', evaluate):
        images, labels = decode(data_root, split, archive)
        keep = subset(len(labels), limit, shuffle=split != 'train')  # train.txt is shuffled
        splits[split] = DeviceSplit(
            torch.from_numpy(images)[keep].to(device),
            torch.from_numpy(labels)[keep].to(device), mean, std)
    info = dict(
        data_root=osp.abspath(data_root),
        archive=archive,
        split_sizes=counts,
        used={
            s: len(v)
            for s, v in splits.items()
        },
        modules=how)
    return splits, info


__all__ = ['DeviceSplit', 'cifar10_io', 'load_splits', 'subset']
