# Mask R-CNN R-50-FPN 2x with BA2M between ResNet stages (paper Table XV/XVI).
# Upstream recipe: mmdet's mask-rcnn_r50_fpn_2x_coco (24 epochs, SGD momentum 0.9,
# weight decay 1e-4, steps at epochs 16 and 22), 8 GPUs x 2 images.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_2x_coco.py'

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

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
