# Paper Table IV "OHEM" on the CPU detection testbed: faster_rcnn_r18_digits_testbed.py with
# online hard example mining of RoIs, upstream's OHEM delta (faster-rcnn_r50_fpn_ohem_1x_coco,
# as faster_rcnn_r50_ohem_1x_voc0712.py): the 64 RoIs per image with the largest loss.
_base_ = './faster_rcnn_r18_digits_testbed.py'

model = dict(train_cfg=dict(rcnn=dict(sampler=dict(type='OHEMSampler'))))
