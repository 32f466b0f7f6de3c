# Comparison baseline of paper Table IV: Faster R-CNN with a plain ResNet-50 and online
# hard example mining (OHEM) of RoIs, on PASCAL VOC07+12 (train 2007+2012 trainval, test
# 2007 test). The delta is upstream's own OHEM delta (faster-rcnn_r50_fpn_ohem_1x_coco)
# applied to upstream's VOC config. It needs no ba2m_mm import.
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py'

model = dict(train_cfg=dict(rcnn=dict(sampler=dict(type='OHEMSampler'))))
