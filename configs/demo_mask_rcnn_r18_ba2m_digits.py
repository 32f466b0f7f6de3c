# Offline CPU demo (`make demo`): Mask R-CNN R-18-FPN with BA2M on the digits
# instance-segmentation set (ba2m_mm/datasets/digits_demo.py, built from
# scikit-learn's load_digits scans; 10 classes '0'..'9', 128x128 images).
# Same model family as mask_rcnn_r50_ba2m_2x_coco.py, scaled to train from scratch
# on 2 CPU cores in minutes: R-18, narrow FPN/heads, fewer sampled RoIs, a short
# schedule. The plain twin is demo_mask_rcnn_r18_plain_digits.py.
_base_ = './mask_rcnn_r50_ba2m_2x_coco.py'

data_root = 'data/digits_demo/'
metainfo = dict(
    classes=('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
    palette=[(220, 20, 60), (119, 11, 32), (0, 0, 142), (0, 0, 230), (106, 0, 228), (0, 60, 100),
             (0, 80, 100), (0, 0, 70), (0, 0, 192), (250, 170, 30)])
image_size = 128
neck_channels = 64  # upstream 256; the heads dominate CPU time at this image size

model = dict(
    backbone=dict(
        depth=18,
        # Half-width ResNet-18 (stages of 32-256 channels): 4x fewer backbone FLOPs;
        # plenty for 8x8-scan digits and what fits 2 CPU cores.
        base_channels=32,
        # No pretrained weights can be downloaded here: train from scratch, so
        # nothing is frozen and BatchNorm learns its statistics.
        init_cfg=None,
        frozen_stages=-1,
        norm_eval=False,
        # Nothing is frozen, so BA2M after all four stages (paper Eq. 15).
        ba2m_stages=(True, True, True, True),
        # One process: the batch of this process is the whole batch. Reduction 16
        # (not 32) so the 32-channel stage still has d = 2 hidden channels.
        ba2m_cfg=dict(reduction=16, sync=False)),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=neck_channels),
    rpn_head=dict(
        in_channels=neck_channels,
        feat_channels=neck_channels,
        # Digits are 12-44 px: anchors of 16-256 px on strides 4-64.
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_channels),
        bbox_head=dict(in_channels=neck_channels, fc_out_channels=256, num_classes=10),
        mask_roi_extractor=dict(out_channels=neck_channels),
        mask_head=dict(
            num_convs=2,  # upstream 4
            in_channels=neck_channels,
            conv_out_channels=neck_channels,
            num_classes=10)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100), rcnn=dict(max_per_img=20)))

# No flips: a mirrored digit is another shape (or another digit).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
# BA2M weighs the images of a batch against each other: >= 2 images per batch.
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json', metric=['bbox', 'segm'])
test_evaluator = val_evaluator

# Short schedule: 600 images / 4 = 150 iterations an epoch, 300 in all.
max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=300, by_epoch=False, milestones=[250], gamma=0.1)
]
# From scratch in a few hundred iterations: AdamW converges faster than the
# upstream SGD; clipping guards the first iterations.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
