# Paper Table III "SoftmaxLoss" on the CPU detection testbed: retinanet_r18_focal_digits_testbed.py
# with a softmax cross-entropy instead of Focal loss, and the anchor sampler that
# retinanet_r50_ba2m_softmax_1x_voc0712.py documents (256 anchors per image, at most half
# positive: without Focal loss's down-weighting, the background anchors would swamp a
# plain cross-entropy). Focal minus this twin is the testbed's positive control.
_base_ = './retinanet_r18_focal_digits_testbed.py'

model = dict(
    bbox_head=dict(
        loss_cls=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(
        sampler=dict(
            _delete_=True,
            type='RandomSampler',
            num=256,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=False)))
