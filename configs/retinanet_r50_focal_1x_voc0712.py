# Comparison baseline of paper Table III: RetinaNet with a plain ResNet-50 and Focal loss
# on PASCAL VOC07+12 (train 2007+2012 trainval, test 2007 test). This is upstream mmdet's
# config unchanged; it is named here so the Table III pair sits side by side with
# retinanet_r50_ba2m_softmax_1x_voc0712.py. It needs no ba2m_mm import.
_base_ = 'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py'
