# Paper Table IV baseline on the CPU detection testbed: Faster R-CNN with a plain ResNet
# (upstream mmdet's VOC config, as faster_rcnn_r50_ohem_1x_voc0712.py without OHEM), scaled
# as the digits demo is: ResNet-18 at half width, a 64-channel FPN and heads, fewer sampled
# anchors and RoIs, 128x128 digits images, trained from scratch. Data, schedule and
# evaluation: ./_base_/digits_testbed_data.py. Twins: *_ohem_* (the RoI sampler) and
# *_ba2m_* (the backbone).
_base_ = ['mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py', './_base_/digits_testbed_data.py']

neck_channels = 64
model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        # From scratch (nothing can be downloaded): nothing frozen, BN learns.
        init_cfg=None,
        frozen_stages=-1,
        norm_eval=False),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=neck_channels),
    rpn_head=dict(
        in_channels=neck_channels,
        feat_channels=neck_channels,
        # Digits are 12-44 px: anchors of 16-256 px on strides 4-64 (as the digits demo).
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_channels),
        bbox_head=dict(in_channels=neck_channels, fc_out_channels=256, num_classes=10)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100), rcnn=dict(max_per_img=20)))

train_dataloader = dict(_delete_=True, **_base_.digits_train_dataloader)
val_dataloader = dict(_delete_=True, **_base_.digits_val_dataloader)
test_dataloader = dict(_delete_=True, **_base_.digits_test_dataloader)
val_evaluator = _base_.digits_val_evaluator
test_evaluator = _base_.digits_test_evaluator
train_cfg = dict(_delete_=True, **_base_.digits_train_cfg)
param_scheduler = _base_.digits_param_scheduler
optim_wrapper = dict(_delete_=True, **_base_.digits_optim_wrapper)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(by_epoch=False, interval=_base_.digits_max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)  # iteration-based training
randomness = dict(seed=0)
