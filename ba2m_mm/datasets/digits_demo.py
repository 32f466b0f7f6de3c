"""Digits instance-segmentation demo set, built offline from scikit-learn's digits.

scikit-learn ships ``load_digits()``: 1,797 real handwritten digit scans of 8x8
pixels (16 grey levels). Each demo image is a textured, noisy canvas with a few
of those scans upscaled, tinted and pasted at random scales and positions
without overlap. Every pasted digit is one instance of class ``'0'``..``'9'``:

- mask: the digit's ink (alpha > 0.5) as COCO polygons from
  ``cv2.findContours`` (outer contours, so the holes of 0/6/8/9 are filled,
  as COCO polygons cannot encode holes; they rasterise back to exactly the
  filled ink pixels);
- bbox: the extent of the rasterised polygons (pycocotools), so the box
  holds the mask exactly;
- area: the rasterised mask area.

Train and val images use disjoint scans (a seeded split of the 1,797), so
validation measures generalisation to unseen handwriting. With ``num_test``, a
test split draws from a third pool of scans, disjoint from both (the detection
testbed chooses on val and reads test once). Everything is a
function of ``seed``: the same arguments write byte-identical files.

Layout written under ``out_dir``::

    annotations/instances_train.json  annotations/instances_val.json
    train/000000.png ...              val/000000.png ...
    annotations/instances_test.json, test/000000.png ...  (only with num_test)
    VOC2007/{JPEGImages,Annotations,ImageSets/Main}  (only with voc=True)
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from tqdm import tqdm

DIGIT_CLASSES = tuple(str(i) for i in range(10))
# One colour per class for mmdet's visualiser (metainfo['palette']).
DIGIT_PALETTE = [(220, 20, 60), (119, 11, 32), (0, 0, 142), (0, 0, 230), (106, 0, 228),
                 (0, 60, 100), (0, 80, 100), (0, 0, 70), (0, 0, 192), (250, 170, 30)]
# Share of the 1,797 scans whose digits may appear in train images; the rest
# appear only in val images (or, with a test split, half of them in val images
# and half in test images).
TRAIN_SCAN_FRACTION = 0.75
MIN_POLYGON_POINTS = 3


def _check_range(name: str, value: Sequence[int], low: int) -> Tuple[int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, int) for v in value) or not low <= value[0] <= value[1]):
        raise ValueError(f'{name} must be a pair of ints (min, max) with {low} <= min <= max, '
                         f'got {value!r}')
    return int(value[0]), int(value[1])


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random texture plus pixel noise, float32 (size, size, 3) in [0, 1]."""
    texture = np.zeros((size, size, 3), np.float32)
    # Low-frequency blotches at two scales: a textured, non-uniform backdrop.
    for cells, strength in ((4, 0.25), (12, 0.12)):
        coarse = rng.random((cells, cells, 3), dtype=np.float32)
        texture += strength * cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    base = rng.uniform(0.0, 0.35, size=3).astype(np.float32)  # dark tint
    # A few faint random strokes so thin lines alone do not mean "digit".
    strokes = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        p0 = tuple(int(v) for v in rng.integers(0, size, 2))
        p1 = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.line(strokes, p0, p1, float(rng.uniform(0.15, 0.35)), int(rng.integers(1, 3)))
    image = base + texture + strokes[..., None]
    image += rng.normal(0.0, 0.04, size=image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0)


def _polygons(mask: np.ndarray) -> List[List[float]]:
    """Outer contours of a binary mask as COCO polygons [x0, y0, x1, y1, ...].

    Contours are traced on the mask upsampled 2x (nearest), so their points
    lie a quarter pixel inside the outer pixel edges; pycocotools rasterises
    such polygons back to exactly the filled mask (checked on the demo
    digits), where contours through pixel centres would lose half of every
    boundary pixel.
    """
    upsampled = cv2.resize(
        mask.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)  # (2H, 2W)
    contours, _ = cv2.findContours(upsampled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        if len(contour) < MIN_POLYGON_POINTS:
            continue
        points = (contour.reshape(-1, 2).astype(np.float64) + 0.5) / 2  # (P, 2) x, y
        polygons.append([round(float(v), 2) for v in points.flatten()])
    return polygons


def _place_digit(rng: np.random.Generator, scan: np.ndarray, size: int, digit_size: Tuple[int, int],
                 taken: List[Tuple[int, int, int, int]]):
    """Pick a size and a free position for one scan; None if no room."""
    height = int(rng.integers(digit_size[0], digit_size[1] + 1))
    width = max(4, int(round(height * rng.uniform(0.75, 1.1))))
    if width > size or height > size:
        return None
    for _ in range(50):
        x0 = int(rng.integers(0, size - width + 1))
        y0 = int(rng.integers(0, size - height + 1))
        box = (x0, y0, x0 + width, y0 + height)
        # Keep a 2-pixel gap to every other digit: no overlap at all.
        if all(box[0] >= b[2] + 2 or b[0] >= box[2] + 2 or box[1] >= b[3] + 2 or b[1] >= box[3] + 2
               for b in taken):
            alpha = cv2.resize(scan, (width, height), interpolation=cv2.INTER_CUBIC)
            return box, np.clip(alpha, 0.0, 1.0)  # (h, w)
    return None


def _make_image(rng: np.random.Generator, scans: np.ndarray, labels: np.ndarray, size: int,
                digits_per_image: Tuple[int, int], digit_size: Tuple[int, int]):
    """One canvas (uint8 BGR) and its instances [(label, polygons, rle)]."""
    image = _background(rng, size)  # (size, size, 3)
    taken, instances = [], []
    for _ in range(int(rng.integers(digits_per_image[0], digits_per_image[1] + 1))):
        index = int(rng.integers(len(scans)))
        placed = _place_digit(rng, scans[index], size, digit_size, taken)
        if placed is None:
            continue
        (x0, y0, x1, y1), alpha = placed
        ink = rng.uniform(0.6, 1.0, size=3).astype(np.float32)  # bright on dark
        region = image[y0:y1, x0:x1]
        image[y0:y1, x0:x1] = region * (1 - alpha[..., None]) + ink * alpha[..., None]
        mask = np.zeros((size, size), np.uint8)
        mask[y0:y1, x0:x1] = alpha > 0.5
        polygons = _polygons(mask)
        if not polygons:
            continue
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, size, size))
        if mask_utils.area(rle) == 0:
            continue
        taken.append((x0, y0, x1, y1))
        instances.append((int(labels[index]), polygons, rle))
    image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return image, instances


def _write_voc_xml(path: str, filename: str, width: int, height: int, objects: List[Tuple[str,
                                                                                          list]]):
    """Pascal VOC annotation; boxes 1-based inclusive as in VOC."""
    root = ET.Element('annotation')
    ET.SubElement(root, 'folder').text = 'VOC2007'
    ET.SubElement(root, 'filename').text = filename
    size_el = ET.SubElement(root, 'size')
    for tag, value in (('width', width), ('height', height), ('depth', 3)):
        ET.SubElement(size_el, tag).text = str(value)
    ET.SubElement(root, 'segmented').text = '0'
    for name, (x, y, w, h) in objects:
        obj = ET.SubElement(root, 'object')
        ET.SubElement(obj, 'name').text = name
        ET.SubElement(obj, 'pose').text = 'Unspecified'
        ET.SubElement(obj, 'truncated').text = '0'
        ET.SubElement(obj, 'difficult').text = '0'
        box = ET.SubElement(obj, 'bndbox')
        for tag, value in (('xmin', x + 1), ('ymin', y + 1), ('xmax', x + w), ('ymax', y + h)):
            ET.SubElement(box, tag).text = str(int(round(value)))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding='utf-8', xml_declaration=False)


def scan_pools(num_scans: int, seed: int = 0, test: bool = False) -> Dict[str, np.ndarray]:
    """Indices of the scans each split draws its digits from: a seeded permutation
    cut into train (:data:`TRAIN_SCAN_FRACTION`) and val, or with ``test`` into
    train, val and test (the rest halved). The pools are disjoint."""
    order = np.random.default_rng(seed).permutation(num_scans)
    cut = int(num_scans * TRAIN_SCAN_FRACTION)
    if not test:
        return {'train': order[:cut], 'val': order[cut:]}
    half = cut + (num_scans - cut) // 2
    return {'train': order[:cut], 'val': order[cut:half], 'test': order[half:]}


def build_digits_coco(out_dir: str,
                      num_train: int = 600,
                      num_val: int = 150,
                      image_size: int = 128,
                      digits_per_image: Tuple[int, int] = (2, 5),
                      digit_size: Tuple[int, int] = (20, 44),
                      seed: int = 0,
                      voc: bool = False,
                      progress: bool = True,
                      num_test: int = 0) -> Dict:
    """Write the digits instance-segmentation set in COCO format.

    Args:
        out_dir (str): Output directory (created; existing files with the same
            names are overwritten).
        num_train (int): Training images. Defaults to 600.
        num_val (int): Validation images. Defaults to 150.
        image_size (int): Side of the square canvases in pixels. Defaults to 128.
        digits_per_image (tuple[int, int]): Min and max digits tried per image
            (fewer when there is no free room). Defaults to (2, 5).
        digit_size (tuple[int, int]): Min and max digit height in pixels.
            Defaults to (20, 44).
        seed (int): Random seed; same arguments give identical files.
            Defaults to 0.
        voc (bool): Also write a Pascal VOC copy of the same images and boxes
            (JPEG) under ``out_dir/VOC2007`` (see :func:`write_voc`).
            Defaults to False.
        progress (bool): Show tqdm progress bars. Defaults to True.
        num_test (int): Test images, from scans used by neither train nor
            val images; 0 writes no test split (and val keeps all the scans
            that train does not use). Defaults to 0.

    Returns:
        dict: ``out_dir``, ``classes`` and per split (``'train'``, ``'val'``,
        with ``num_test`` also ``'test'``)
        ``ann_file``, ``img_dir``, ``num_images``, ``num_instances``.
    """
    for name, value in (('num_train', num_train), ('num_val', num_val)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be an int >= 1, got {value!r}')
    if not isinstance(num_test, int) or num_test < 0:
        raise ValueError(f'num_test must be an int >= 0, got {num_test!r}')
    if not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f'image_size must be an int >= 16, got {image_size!r}')
    digits_per_image = _check_range('digits_per_image', digits_per_image, 1)
    digit_size = _check_range('digit_size', digit_size, 8)
    if digit_size[1] > image_size:
        raise ValueError(f'digit_size max ({digit_size[1]}) must be <= image_size ({image_size})')

    from sklearn.datasets import load_digits  # shipped with scikit-learn, no download
    digits = load_digits()
    scans = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8) in [0, 1]
    pools = scan_pools(len(scans), seed, test=num_test > 0)
    counts = dict(train=num_train, val=num_val, test=num_test)
    counts = {split: counts[split] for split in pools}

    summary = dict(out_dir=out_dir, classes=DIGIT_CLASSES)
    categories = [
        dict(id=i + 1, name=name, supercategory='digit') for i, name in enumerate(DIGIT_CLASSES)
    ]
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    for split_index, (split, count) in enumerate(counts.items()):
        rng = np.random.default_rng([seed, split_index])
        img_dir = osp.join(out_dir, split)
        os.makedirs(img_dir, exist_ok=True)
        images, annotations = [], []
        for image_id in tqdm(range(count), desc=f'digits {split}', disable=not progress):
            image, instances = _make_image(rng, scans[pools[split]], digits.target[pools[split]],
                                           image_size, digits_per_image, digit_size)
            file_name = f'{image_id:06d}.png'
            cv2.imwrite(osp.join(img_dir, file_name), image)
            images.append(
                dict(id=image_id, file_name=file_name, width=image_size, height=image_size))
            for label, polygons, rle in instances:
                bbox = [float(v) for v in mask_utils.toBbox(rle)]  # x, y, w, h
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=image_id,
                        category_id=label + 1,
                        segmentation=polygons,
                        area=float(mask_utils.area(rle)),
                        bbox=bbox,
                        iscrowd=0))
        coco = dict(
            info=dict(
                description=f'ba2m_mm digits demo ({split}), from sklearn load_digits',
                version='1.0',
                year=2026),
            licenses=[],
            images=images,
            annotations=annotations,
            categories=categories)
        ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
        with open(ann_file, 'w') as f:
            json.dump(coco, f)
        summary[split] = dict(
            ann_file=ann_file,
            img_dir=img_dir,
            num_images=len(images),
            num_instances=len(annotations))
    if voc:
        summary['voc_root'] = write_voc(out_dir, progress=progress)
    return summary


def write_voc(out_dir: str, progress: bool = True) -> str:
    """Copy a built COCO digits set to Pascal VOC layout, for mmdet's VOCDataset.

    Writes ``out_dir/VOC2007/JPEGImages/{split}_{id}.jpg`` (JPEG quality 95
    of the same PNGs), ``Annotations/{split}_{id}.xml`` (class names
    ``'0'``..``'9'``) and ``ImageSets/Main/trainval.txt`` (train images) /
    ``test.txt`` (val images). Masks are not part of VOC detection.

    Args:
        out_dir (str): Directory written by :func:`build_digits_coco`.
        progress (bool): Show tqdm progress bars. Defaults to True.

    Returns:
        str: The VOC root, ``out_dir/VOC2007``.
    """
    voc_root = osp.join(out_dir, 'VOC2007')
    for sub in ('JPEGImages', 'Annotations', osp.join('ImageSets', 'Main')):
        os.makedirs(osp.join(voc_root, sub), exist_ok=True)
    for split, image_set in (('train', 'trainval'), ('val', 'test')):
        ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'write_voc: {ann_file} not found; run build_digits_coco '
                                    f'with out_dir={out_dir!r} first')
        with open(ann_file) as f:
            coco = json.load(f)
        names = {c['id']: c['name'] for c in coco['categories']}
        objects = {img['id']: [] for img in coco['images']}
        for ann in coco['annotations']:
            objects[ann['image_id']].append((names[ann['category_id']], ann['bbox']))
        ids = []
        for img in tqdm(coco['images'], desc=f'VOC {image_set}', disable=not progress):
            voc_id = f'{split}_{img["id"]:06d}'
            image = cv2.imread(osp.join(out_dir, split, img['file_name']))
            cv2.imwrite(
                osp.join(voc_root, 'JPEGImages', voc_id + '.jpg'), image,
                [cv2.IMWRITE_JPEG_QUALITY, 95])
            _write_voc_xml(
                osp.join(voc_root, 'Annotations', voc_id + '.xml'), voc_id + '.jpg', img['width'],
                img['height'], objects[img['id']])
            ids.append(voc_id)
        with open(osp.join(voc_root, 'ImageSets', 'Main', image_set + '.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
    return voc_root
