# ResNet-18 (CIFAR stem, widths 16-128) with BA2M after all four stages on CIFAR-10: the
# BA2M twin of resnet18_cifar10_testbed.py (only the backbone and BA2M's learning rate
# differ). BA2M: the module's defaults (zero_init: every weight is exactly 1 at the start),
# R = 4 (d = C / R = 4, 8, 16, 32 hidden units).
# Strength: BA2M leaves the identity through gamma and beta of its branch BN, whose gradient
# is small (the SAR averages over C channels). ba2m_cfg.strength = s applies s times those
# parameters, so SGD moves them s^2 times as fast (an lr multiplier that the one-cycle
# schedule cannot override: OneCycleLR sets every param group's lr, lr_mult included). The
# value was chosen on the validation split (docs/cifar10.md, strength study).
_base_ = './resnet18_cifar10_testbed.py'

ba2m_strength = 1.0
model = dict(
    backbone=dict(
        type='BA2MResNet_CIFAR',
        ba2m_stages=(True, True, True, True),
        ba2m_cfg=dict(reduction=4, strength=ba2m_strength)))
