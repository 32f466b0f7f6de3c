# RetinaNet R-50-FPN (Focal loss) with BA2M between ResNet stages on PASCAL VOC.
# Train on VOC2007+2012 trainval, test on VOC2007 test (VOCMetric, 11-point mAP).
# Upstream recipe: mmdet's retinanet_r50_fpn_1x_voc0712 (4 epochs over the trainval set
# repeated 3 times, SGD lr 0.01 for 16 images, x0.1 after epoch 3), 8 GPUs x 2 images.
# The paper's Table III row uses softmax instead of Focal loss: see
# retinanet_r50_ba2m_softmax_1x_voc0712.py, which derives from this file.
_base_ = ['mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py', './_base_/ba2m_det_backbone.py']

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M after stages 2-4, with the options every BA2M detection config shares
# (_base_/ba2m_det_backbone.py).
model = dict(backbone=dict(type='BA2MResNet', **_base_.ba2m_det_backbone))
