"""The digits demo set: valid COCO, exact masks/boxes, determinism, VOC export."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from pycocotools.coco import COCO

from ba2m_mm.datasets import DIGIT_CLASSES, build_digits_coco

TINY = dict(num_train=6, num_val=4, image_size=64, digit_size=(12, 28), progress=False)


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('digits'))
    return build_digits_coco(out, voc=True, **TINY)


def _files(root):
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                found[osp.relpath(path, root)] = f.read()
    return found


def test_summary_and_layout(tiny_set):
    assert tiny_set['classes'] == DIGIT_CLASSES == tuple('0123456789')
    for split, count in (('train', 6), ('val', 4)):
        info = tiny_set[split]
        assert info['num_images'] == count
        assert info['num_instances'] >= count  # at least one digit per image
        assert sorted(os.listdir(info['img_dir'])) == [f'{i:06d}.png' for i in range(count)]
        assert info['ann_file'].endswith(f'annotations/instances_{split}.json')


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_masks_inside_tight_boxes(tiny_set, split):
    import mmcv
    coco = COCO(tiny_set[split]['ann_file'])
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(DIGIT_CLASSES)
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == tiny_set[split]['num_instances']
    for img in coco.loadImgs(coco.getImgIds()):
        image = mmcv.imread(osp.join(tiny_set[split]['img_dir'], img['file_name']))
        assert image.shape == (img['height'], img['width'], 3) == (64, 64, 3)
    for ann in anns:
        assert ann['iscrowd'] == 0 and 1 <= ann['category_id'] <= 10
        assert all(len(p) >= 6 and len(p) % 2 == 0 for p in ann['segmentation'])
        mask = coco.annToMask(ann)  # (H, W) via pycocotools
        ys, xs = np.nonzero(mask)
        x, y, w, h = ann['bbox']
        # Box = mask extent exactly: every mask pixel inside, every side touched.
        assert (xs.min(), ys.min()) == (x, y)
        assert (xs.max() + 1, ys.max() + 1) == (x + w, y + h)
        assert ann['area'] == mask.sum() > 0
        assert 12 * 0.5 <= h <= 28  # thresholding may trim the scaled scan


def test_instances_do_not_overlap(tiny_set):
    coco = COCO(tiny_set['train']['ann_file'])
    for image_id in coco.getImgIds():
        masks = [coco.annToMask(a) for a in coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))]
        assert np.stack(masks).sum(axis=0).max() == 1


def test_mmdet_coco_pipeline_loads_masks(tiny_set):
    from mmdet.datasets import CocoDataset
    from mmdet.structures.mask import BitmapMasks
    from mmdet.utils import register_all_modules
    register_all_modules()  # mmdet's LoadAnnotations, not mmcv's
    data_root = tiny_set['out_dir']
    dataset = CocoDataset(
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        metainfo=dict(classes=DIGIT_CLASSES),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True)
        ])
    coco = COCO(tiny_set['val']['ann_file'])
    assert len(dataset) == 4
    sample = dataset[0]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[sample['img_id']]))
    assert isinstance(sample['gt_masks'], BitmapMasks)
    expected = np.stack([coco.annToMask(a) for a in anns])  # (K, H, W)
    np.testing.assert_array_equal(sample['gt_masks'].masks, expected)
    boxes = np.array(
        [[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3]]
         for a in anns])
    np.testing.assert_allclose(sample['gt_bboxes'].numpy(), boxes)
    assert list(sample['gt_bboxes_labels']) == [a['category_id'] - 1 for a in anns]


def test_same_seed_identical_files_other_seed_differs(tmp_path, tiny_set):
    again = build_digits_coco(str(tmp_path / 'again'), voc=True, **TINY)
    assert _files(again['out_dir']) == _files(tiny_set['out_dir'])
    other = build_digits_coco(str(tmp_path / 'other'), seed=1, **TINY)
    with open(other['val']['ann_file']) as f1, open(tiny_set['val']['ann_file']) as f2:
        assert json.load(f1)['annotations'] != json.load(f2)['annotations']


def test_voc_export_parses_with_mmdet_vocdataset(tiny_set):
    from mmdet.datasets import VOCDataset
    coco = COCO(tiny_set['val']['ann_file'])
    dataset = VOCDataset(
        data_root=tiny_set['voc_root'],
        ann_file='ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root=''),
        metainfo=dict(classes=DIGIT_CLASSES),
        test_mode=True,
        pipeline=[])
    assert len(dataset) == 4
    for info in dataset.load_data_list():
        image_id = int(info['img_id'].split('_')[1])
        assert info['img_id'].startswith('val_') and osp.isfile(info['img_path'])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        got = sorted((i['bbox_label'], *i['bbox']) for i in info['instances'])
        # VOC boxes are 1-based inclusive; mmdet subtracts 1 from all four, so
        # it reads the 0-based indices of the first and last mask pixels.
        want = sorted((a['category_id'] - 1, a['bbox'][0], a['bbox'][1],
                       a['bbox'][0] + a['bbox'][2] - 1, a['bbox'][1] + a['bbox'][3] - 1)
                      for a in anns)
        np.testing.assert_allclose(np.array(got, float), np.array(want, float))
        assert all(i['ignore_flag'] == 0 for i in info['instances'])


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_train=0), 'num_train must be an int >= 1, got 0'),
    (dict(image_size=8), 'image_size must be an int >= 16, got 8'),
    (dict(digit_size=(30, 20)), 'digit_size must be a pair of ints'),
    (dict(digit_size=(20, 90), image_size=64), r'digit_size max \(90\) must be <= image_size'),
])
def test_bad_arguments_name_the_option(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_digits_coco(str(tmp_path), **{**TINY, **kwargs})
