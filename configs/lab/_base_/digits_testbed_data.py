# Data, schedule and evaluation of the CPU detection testbed (configs/lab/*_digits_testbed.py),
# defined once. The digits set with a test split (ba2m_mm/datasets/digits_demo.py,
# num_test): 800 train / 200 val / 200 test images of 128x128, each split drawn from its own
# pool of scikit-learn digit scans. Choices are made on val; the verdict reads test once.
#
# A testbed config inherits its upstream VOC config (the paper's Table III / IV setting)
# and this file, and replaces the upstream data and schedule with these variables:
#
#     _base_ = ['../retinanet_r50_focal_1x_voc0712.py', './_base_/digits_testbed_data.py']
#     train_dataloader = dict(_delete_=True, **_base_.digits_train_dataloader)
#
# mmengine refuses two bases that define the same key, so the variables have names of
# their own (as configs/_base_/ba2m_det_backbone.py does).
digits_root = 'data/digits_testbed/'
digits_metainfo = dict(
    classes=('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
    palette=[(220, 20, 60), (119, 11, 32), (0, 0, 142), (0, 0, 230), (106, 0, 228), (0, 60, 100),
             (0, 80, 100), (0, 0, 70), (0, 0, 192), (250, 170, 30)])
digits_image_size = 128
# BA2M weighs the images of one batch against each other: 8 images, the same in every arm
# (the paper's setting sees 16 with sync over 8 GPUs; 16 does not fit a run's budget here).
digits_batch_size = 8


def _loader(split, pipeline, batch_size, shuffle):
    return dict(
        batch_size=batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        dataset=dict(
            type='CocoDataset',
            data_root=digits_root,
            metainfo=digits_metainfo,
            ann_file=f'annotations/instances_{split}.json',
            data_prefix=dict(img=f'{split}/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=1) if shuffle else None,
            test_mode=not shuffle,
            pipeline=pipeline))


# No flips: a mirrored digit is another shape (or another digit).
_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(digits_image_size, digits_image_size), keep_ratio=True),
    dict(type='PackDetInputs')
]
_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(digits_image_size, digits_image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
digits_train_dataloader = _loader('train', _train_pipeline, digits_batch_size, True)
digits_val_dataloader = _loader('val', _test_pipeline, 8, False)
digits_test_dataloader = _loader('test', _test_pipeline, 8, False)


def _evaluator(split):
    # COCO mAP (mmdet's CocoMetric, pycocotools) and VOC07 AP50 (11 points, the paper's).
    return [
        dict(
            type='CocoMetric',
            ann_file=f'{digits_root}annotations/instances_{split}.json',
            metric='bbox'),
        dict(type='VOCMetric', metric='mAP', eval_mode='11points')
    ]


digits_val_evaluator = _evaluator('val')
digits_test_evaluator = _evaluator('test')

# From scratch in a few hundred iterations: AdamW (as the digits demo), clipped, with a
# linear warm-up and a step at 5/6 of the run. Iteration-based, so every arm takes the
# same steps on the same batches.
digits_max_iters = 200
digits_train_cfg = dict(type='IterBasedTrainLoop', max_iters=digits_max_iters, val_interval=10**9)
digits_param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=digits_max_iters,
        by_epoch=False,
        milestones=[digits_max_iters * 5 // 6],
        gamma=0.1)
]
digits_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10, norm_type=2))

# The BA2M twins' backbone options (after all four stages: nothing is frozen from scratch,
# paper Eq. 15), with the digits demo's options: reduction 16 (the 32-channel stage keeps
# d = 2 hidden channels), one process (sync=False: the batch of 8 is the whole batch), the
# scaled softmax (mean weight 1) and the sampled global branch of the detection configs.
digits_ba2m_backbone = dict(
    ba2m_stages=(True, True, True, True),
    ba2m_cfg=dict(reduction=16, normalize='scaled_softmax', sync=False, gsa_mode='auto'))
