# ResNet-18 (CIFAR stem, widths 16-128) with BA2M after all four stages on CIFAR-10: the
# BA2M twin of resnet18_cifar10_testbed.py (only the backbone and BA2M's learning rate
# differ). BA2M: the module's defaults (zero_init: every weight is exactly 1 at the start),
# R = 4 (d = C / R = 4, 8, 16, 32 hidden units).
# Strength: BA2M leaves the identity through gamma and beta of its branch BN, whose gradient
# is small (the SAR averages over C channels), so they learn at ba2m_strength x the lr
# (mmengine paramwise_cfg lr_mult on ba2m<i>.bn.*; nothing else changes). The value was
# chosen on the validation split (docs/cifar10.md, strength study).
_base_ = './resnet18_cifar10_testbed.py'

ba2m_strength = 10
model = dict(
    backbone=dict(
        type='BA2MResNet_CIFAR', ba2m_stages=(True, True, True, True), ba2m_cfg=dict(reduction=4)))
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={f'ba2m{i}.bn.': dict(lr_mult=ba2m_strength)
                     for i in range(1, 5)}))
