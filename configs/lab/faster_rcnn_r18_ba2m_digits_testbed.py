# Paper Table IV "BA2M (ours)" on the CPU detection testbed: faster_rcnn_r18_digits_testbed.py
# with BA2M in the ResNet-18.
_base_ = './faster_rcnn_r18_digits_testbed.py'

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M after all four stages (nothing is frozen when training from scratch; paper Eq. 15),
# with the digits demo's options: reduction 16 (the 32-channel stage keeps d = 2 hidden
# channels), one process (sync=False: the batch of 8 is the whole batch), the scaled softmax
# (mean weight 1) and the sampled global branch of every BA2M detection config.
model = dict(
    backbone=dict(
        type='BA2MResNet',
        ba2m_stages=(True, True, True, True),
        ba2m_cfg=dict(reduction=16, normalize='scaled_softmax', sync=False, gsa_mode='auto')))
