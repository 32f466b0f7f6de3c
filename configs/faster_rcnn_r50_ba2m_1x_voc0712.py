# Faster R-CNN R-50-FPN with BA2M between ResNet stages on PASCAL VOC (paper Table IV).
# Train on VOC2007+2012 trainval, test on VOC2007 test (VOCMetric, 11-point mAP).
# Upstream recipe: mmdet's faster-rcnn_r50_fpn_1x_voc0712 (4 epochs over the trainval set
# repeated 3 times, SGD lr 0.01 for 16 images, x0.1 after epoch 3), 8 GPUs x 2 images.
# The paper states no VOC schedule.
_base_ = ['mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py', './_base_/ba2m_det_backbone.py']

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M after stages 2-4, with the options every BA2M detection config shares
# (_base_/ba2m_det_backbone.py).
model = dict(backbone=dict(type='BA2MResNet', **_base_.ba2m_det_backbone))
