# Plain-ResNet twin of demo_mask_rcnn_r18_ba2m_digits.py: the same data, model,
# schedule and seed with mmdet's own ResNet-18 (no BA2M), for `make demo-compare`.
_base_ = './demo_mask_rcnn_r18_ba2m_digits.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None))
