# Paper Table III baseline on the CPU detection testbed: RetinaNet with a plain ResNet and
# Focal loss (retinanet_r50_focal_1x_voc0712.py, upstream mmdet's VOC config), scaled as the
# digits demo is: ResNet-18 at half width (stages of 32-256 channels), a 64-channel FPN and
# heads, 128x128 digits images, trained from scratch. Data, schedule and evaluation:
# ./_base_/digits_testbed_data.py. The twins of this file change only what the paper
# varies: the classification loss (retinanet_r18_ce_*) and the backbone (*_ba2m_*).
_base_ = ['../retinanet_r50_focal_1x_voc0712.py', './_base_/digits_testbed_data.py']

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
    bbox_head=dict(
        num_classes=10,
        in_channels=neck_channels,
        feat_channels=neck_channels,
        stacked_convs=2,  # upstream 4
        # Digits are 12-44 px: anchors from 16 px (upstream 32) on strides 8-128.
        anchor_generator=dict(octave_base_scale=2)),
    test_cfg=dict(nms_pre=500, max_per_img=20))

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
