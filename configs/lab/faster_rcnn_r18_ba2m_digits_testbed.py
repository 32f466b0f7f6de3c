# Paper Table IV "BA2M (ours)" on the CPU detection testbed: faster_rcnn_r18_digits_testbed.py
# with BA2M in the ResNet-18.
_base_ = './faster_rcnn_r18_digits_testbed.py'

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M with the testbed's options (./_base_/digits_testbed_data.py).
model = dict(backbone=dict(type='BA2MResNet', **_base_.digits_ba2m_backbone))
