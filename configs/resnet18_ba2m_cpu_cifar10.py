# ResNet-18 (CIFAR stem, base width 16) with BA2M on a CIFAR-10 subset: the CPU budget
# twin of resnet18_cpu_cifar10.py (only the backbone differs). BA2M after all four stages
# with the module's defaults (zero_init, statistics='running_with_batch', scaled_softmax)
# and R = 4, i.e. d = C / R = 4, 8, 16, 32 hidden units at the 16-128 channel stages: the
# best arm of the validation ablation (docs/cifar10.md; R = 8: -0.6 points).
_base_ = './resnet18_cpu_cifar10.py'

model = dict(
    backbone=dict(
        type='BA2MResNet_CIFAR', ba2m_stages=(True, True, True, True), ba2m_cfg=dict(reduction=4)))
