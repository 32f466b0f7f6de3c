# RetinaNet R-50-FPN 2x with BA2M between ResNet stages (COCO; the paper reports RetinaNet
# on VOC only, Table III).
# Upstream recipe: mmdet's retinanet_r50_fpn_2x_coco (24 epochs, SGD lr 0.01 for
# 16 images, momentum 0.9, weight decay 1e-4, lr x0.1 at epochs 16 and 22), i.e. the
# paper's COCO schedule (suppl. G) already, 8 GPUs x 2 images.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_2x_coco.py', './_base_/ba2m_det_backbone.py']

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M after stages 2-4, with the options every BA2M detection config shares
# (_base_/ba2m_det_backbone.py).
model = dict(backbone=dict(type='BA2MResNet', **_base_.ba2m_det_backbone))
