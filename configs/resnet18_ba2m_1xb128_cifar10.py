# ResNet-18 (CIFAR stem) with BA2M on CIFAR-10: the full recipe on one GPU, the twin of
# resnet18_1xb128_cifar10.py (same data, schedule and seed handling; only the backbone
# differs). BA2M's softmax runs over the 128 images of a step (paper Fig. 5, N = 128; for
# the paper's N = 256 on one GPU:
#   --cfg-options train_dataloader.batch_size=256 optim_wrapper.optimizer.lr=0.2).
# BA2M options: those chosen on the CIFAR-10 validation split at the CPU budget
# (docs/cifar10.md): after all four stages, the module's defaults, and d = C / R = 4, 8, 16,
# 32 hidden units as there (R = 16 at these 64-512 channel stages, R = 4 at 16-128).
_base_ = './resnet18_1xb128_cifar10.py'

model = dict(
    backbone=dict(
        type='BA2MResNet_CIFAR', ba2m_stages=(True, True, True, True), ba2m_cfg=dict(reduction=16)))
