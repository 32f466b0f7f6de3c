# BA2M with Focal loss on the CPU detection testbed (what a user would try; not in the
# paper): retinanet_r18_focal_digits_testbed.py with BA2M in the ResNet-18.
_base_ = './retinanet_r18_focal_digits_testbed.py'

custom_imports = dict(imports=['ba2m_mm'], allow_failed_imports=False)

# BA2M with the testbed's options (./_base_/digits_testbed_data.py).
model = dict(backbone=dict(type='BA2MResNet', **_base_.digits_ba2m_backbone))
