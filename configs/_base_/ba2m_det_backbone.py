# The BA2M options of every BA2M detection config in configs/, defined once.
#
# A detection config inherits this file beside its upstream mmdet config and puts the
# options into its backbone:
#
#     _base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py',
#               './_base_/ba2m_det_backbone.py']
#     model = dict(backbone=dict(type='BA2MResNet', **_base_.ba2m_det_backbone))
#
# mmengine refuses two bases that both define `model`, so this base defines a variable of
# its own, `ba2m_det_backbone`, which (like upstream base variables such as
# `backend_args`) also stays in the merged config at the top level. The backbone type
# (BA2MResNet or BA2MResNeXt) is the config's.
ba2m_det_backbone = dict(
    # frozen_stages=1 (upstream) freezes stage 1, and a frozen BA2M is the identity,
    # so BA2M goes after stages 2-4 only.
    ba2m_stages=(False, True, True, True),
    ba2m_cfg=dict(
        reduction=32,
        # mean weight 1: with norm_eval=True the frozen BN statistics see the same
        # feature scale in training as at inference, where BA2M is the identity.
        normalize='scaled_softmax',
        # softmax over the global batch (16 images) instead of 2 images per GPU.
        sync=True,
        gsa_mode='auto'))
