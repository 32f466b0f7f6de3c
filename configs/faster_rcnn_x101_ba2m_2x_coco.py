# Faster R-CNN X-101-32x4d-FPN 2x with BA2M between ResNeXt stages (the paper's Table XIV
# setting, on the ResNeXt-101 of its Table XII).
# Upstream recipe: mmdet's faster-rcnn_x101-32x4d_fpn_2x_coco, i.e. faster-rcnn_r50_fpn_2x_coco
# (24 epochs, SGD lr 0.02 for 16 images, momentum 0.9, weight decay 1e-4, lr x0.1 at epochs 16
# and 22) with the ImageNet ResNeXt-101 32x4d backbone; 8 GPUs x 2 images. Learning rate:
# see faster_rcnn_r50_ba2m_2x_coco.py.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_x101-32x4d_fpn_2x_coco.py'

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# Same BA2M backbone delta as mask_rcnn_r50_ba2m_2x_coco.py (tests/test_configs.py
# checks that every BA2M detection config uses identical BA2M options).
model = dict(
    backbone=dict(
        type='BA2MResNeXt',
        # frozen_stages=1 (upstream) freezes stage 1, and a frozen BA2M is the identity,
        # so BA2M goes after stages 2-4 only.
        ba2m_stages=(False, True, True, True),
        ba2m_cfg=dict(
            reduction=32,
            # mean weight 1: with norm_eval=True the frozen BN statistics see the same
            # feature scale in training as at inference, where BA2M is the identity.
            normalize='scaled_softmax',
            # softmax over the global batch (16 images) instead of 2 images per GPU.
            sync=True,
            gsa_mode='auto')))
