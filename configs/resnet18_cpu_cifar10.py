# Plain ResNet-18 (CIFAR stem, base width 16) on a CIFAR-10 subset: the CPU budget of the
# BA2M-vs-plain comparison (twin: resnet18_ba2m_cpu_cifar10.py). Same data, batch and
# optimiser as the full recipe (resnet18_1xb128_cifar10.py) except:
# - widths 16-32-64-128 instead of 64-128-256-512;
# - the first 10,240 images of meta/train.txt (a seeded random, roughly class-balanced
#   subset of the 45,000 training images) and 2 epochs: 160 steps of 128 images;
# - lr 0.1 with a 20-step linear warm-up, then cosine to 0; evaluation once, at the end.
# Run: python tools/compare.py --preset cifar10-cpu (docs/cifar10.md).
_base_ = './resnet18_1xb128_cifar10.py'

model = dict(backbone=dict(stem_channels=16, base_channels=16), head=dict(in_channels=128))
train_dataloader = dict(num_workers=0, dataset=dict(indices=10240))
val_dataloader = dict(num_workers=0)
test_dataloader = dict(num_workers=0)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=160)
]
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=10))
