"""Demo datasets built offline (no download)."""
from .digits_demo import DIGIT_CLASSES, DIGIT_PALETTE, build_digits_coco, write_voc

__all__ = ['DIGIT_CLASSES', 'DIGIT_PALETTE', 'build_digits_coco', 'write_voc']
