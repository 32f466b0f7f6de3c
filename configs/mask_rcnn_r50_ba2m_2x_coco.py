# Mask R-CNN R-50-FPN 2x with BA2M between ResNet stages (paper Table XV/XVI).
# Upstream recipe: mmdet's mask-rcnn_r50_fpn_2x_coco (24 epochs, SGD momentum 0.9,
# weight decay 1e-4, steps at epochs 16 and 22), 8 GPUs x 2 images.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_2x_coco.py', './_base_/ba2m_det_backbone.py']

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M after stages 2-4, with the options every BA2M detection config shares
# (_base_/ba2m_det_backbone.py).
model = dict(backbone=dict(type='BA2MResNet', **_base_.ba2m_det_backbone))
