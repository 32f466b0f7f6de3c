# ResNet-18 (CIFAR stem, base width 16) with BA2M on a CIFAR-10 subset: the CPU budget
# twin of resnet18_cpu_cifar10.py (only the backbone differs). BA2M options: the defaults
# chosen on the validation split (docs/cifar10.md); R = 8 for these 16-128 channel stages.
_base_ = './resnet18_cpu_cifar10.py'

model = dict(backbone=dict(type='BA2MResNet_CIFAR', ba2m_cfg=dict(reduction=8)))
