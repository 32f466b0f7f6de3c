# Faster R-CNN X-101-32x4d-FPN 2x with BA2M between ResNeXt stages (the paper's Table XIV
# setting, on the ResNeXt-101 of its Table XII).
# Upstream recipe: mmdet's faster-rcnn_x101-32x4d_fpn_2x_coco, i.e. faster-rcnn_r50_fpn_2x_coco
# (24 epochs, SGD lr 0.02 for 16 images, momentum 0.9, weight decay 1e-4, lr x0.1 at epochs 16
# and 22) with the ImageNet ResNeXt-101 32x4d backbone; 8 GPUs x 2 images. Learning rate:
# see faster_rcnn_r50_ba2m_2x_coco.py.
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_x101-32x4d_fpn_2x_coco.py', './_base_/ba2m_det_backbone.py'
]

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M after stages 2-4, with the options every BA2M detection config shares
# (_base_/ba2m_det_backbone.py).
model = dict(backbone=dict(type='BA2MResNeXt', **_base_.ba2m_det_backbone))
