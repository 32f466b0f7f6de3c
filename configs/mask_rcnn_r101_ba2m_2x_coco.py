# Mask R-CNN R-101-FPN 2x with BA2M between ResNet stages (paper Tables XV and XVI).
# Derived from our R-50 config exactly as upstream derives mask-rcnn_r101_fpn_2x_coco
# from mask-rcnn_r50_fpn_2x_coco: only depth and ImageNet weights change.
_base_ = './mask_rcnn_r50_ba2m_2x_coco.py'

model = dict(
    backbone=dict(
        depth=101, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
