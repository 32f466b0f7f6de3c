# ResNeXt-101 (32x4d) with BA2M after each of the four stages on ImageNet-1k (paper Table XII).
# Upstream resnext101-32x4d_8xb32_in1k differs from resnext50-32x4d_8xb32_in1k only in the
# backbone depth, so this derives from our ResNeXt-50 config and keeps the BA2M options in
# one place.
_base_ = './resnext50_ba2m_8xb32_in1k.py'

model = dict(backbone=dict(depth=101))
