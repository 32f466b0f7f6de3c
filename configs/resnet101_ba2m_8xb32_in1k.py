# ResNet-101 with BA2M after each of the four stages on ImageNet-1k (paper Table V).
# Upstream resnet101_8xb32_in1k differs from resnet50_8xb32_in1k only in the backbone
# depth, so this derives from our ResNet-50 config and keeps the BA2M options in one place.
_base_ = './resnet50_ba2m_8xb32_in1k.py'

model = dict(backbone=dict(depth=101))
