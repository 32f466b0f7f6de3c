# Faster R-CNN R-50-FPN 2x with BA2M between ResNet stages (paper Table XIV).
# Upstream recipe: mmdet's faster-rcnn_r50_fpn_2x_coco (24 epochs, SGD momentum 0.9,
# weight decay 1e-4, lr x0.1 at epochs 16 and 22, 500-iter linear warm-up),
# 8 GPUs x 2 images.
#
# Learning rate: the paper (suppl. G) states lr 0.01 but not its total batch, and also
# says it used MMDetection with "all the related hyper-parameters not changed". We keep
# upstream's lr 0.02 for 16 images (the recipe of the mmdet baselines we compare with in
# docs/model_zoo.md); under the linear scaling rule the paper's 0.01 is this recipe at 8
# images. Training on another total batch: pass `--auto-scale-lr` (base_batch_size=16).
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py', './_base_/ba2m_det_backbone.py']

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M after stages 2-4, with the options every BA2M detection config shares
# (_base_/ba2m_det_backbone.py).
model = dict(backbone=dict(type='BA2MResNet', **_base_.ba2m_det_backbone))
