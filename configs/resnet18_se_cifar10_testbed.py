# ResNet-18 (CIFAR stem, widths 16-128) with squeeze-and-excitation in every residual block
# on CIFAR-10: the positive control of the testbed (resnet18_cifar10_testbed.py; only the
# backbone differs). SE sits where SE-ResNet puts it (on the residual branch, before the
# addition): mmpretrain's SELayer (ReLU / sigmoid, squeeze C / 4 rounded up to a multiple of
# 8), built through the BA2M backbone's 'inside' position.
_base_ = './resnet18_cifar10_testbed.py'

model = dict(
    backbone=dict(
        type='BA2MResNet_CIFAR',
        ba2m_stages=(True, True, True, True),
        ba2m_position='inside',
        ba2m_cfg=dict(type='SqueezeExcitation', reduction=4)))
