# Faster R-CNN R-50-FPN with BA2M between ResNet stages on PASCAL VOC (paper Table IV).
# Train on VOC2007+2012 trainval, test on VOC2007 test (VOCMetric, 11-point mAP).
# Upstream recipe: mmdet's faster-rcnn_r50_fpn_1x_voc0712 (4 epochs over the trainval set
# repeated 3 times, SGD lr 0.01 for 16 images, x0.1 after epoch 3), 8 GPUs x 2 images.
# The paper states no VOC schedule.
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py'

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# Same BA2M backbone delta as mask_rcnn_r50_ba2m_2x_coco.py (tests/test_configs.py
# checks that every BA2M detection config uses identical BA2M options).
model = dict(
    backbone=dict(
        type='BA2MResNet',
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
