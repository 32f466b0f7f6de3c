"""Datasets built or prepared offline (no download)."""
from .cifar10_decoded import CIFAR10Decoded, decode_cifar10_split
from .cifar10_jpeg import (CIFAR10_CLASSES, ensure_cifar10_jpeg, extract_cifar10_jpeg,
                           make_cifar10_splits)
from .digits_demo import DIGIT_CLASSES, DIGIT_PALETTE, build_digits_coco, write_voc

__all__ = [
    'CIFAR10Decoded', 'decode_cifar10_split', 'CIFAR10_CLASSES', 'ensure_cifar10_jpeg',
    'extract_cifar10_jpeg', 'make_cifar10_splits', 'DIGIT_CLASSES', 'DIGIT_PALETTE',
    'build_digits_coco', 'write_voc'
]
