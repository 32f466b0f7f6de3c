# Plain ResNet-18 (CIFAR stem, widths 16-32-64-128) on CIFAR-10: the testbed of "does BA2M
# help?" (docs/cifar10.md), sized for a CPU core. Twins, which differ only in the backbone:
# resnet18_ba2m_cifar10_testbed.py (BA2M after every stage) and
# resnet18_se_cifar10_testbed.py (the positive control: squeeze-and-excitation in every
# block, as SE-ResNet). From the full recipe (resnet18_1xb128_cifar10.py), the levers that
# buy accuracy per step on a CPU:
# - all 45,000 training images, decoded once (CIFAR10Decoded), batch 256 (the paper's N);
# - 1 epoch (176 steps), one-cycle lr (SGD + Nesterov, peak 0.4 at 25%, wd 5e-4),
#   label smoothing 0.1;
# - channels_last memory format (ChannelsLastHook): 1.3x faster here in fp32. bf16 autocast
#   is not used: this CPU has no avx512_bf16, and bf16 convolutions ran ~14x slower.
# Run: python tools/compare.py --preset cifar10-testbed (docs/cifar10.md).
_base_ = './resnet18_1xb128_cifar10.py'

custom_imports = dict(imports=['ba2m_mm', 'ba2m_mm.datasets'], allow_failed_imports=False)

model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128, loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1)))
train_dataloader = dict(batch_size=256, num_workers=0)
val_dataloader = dict(num_workers=0)
test_dataloader = dict(num_workers=0)
optim_wrapper = dict(optimizer=dict(lr=0.4, momentum=0.9, weight_decay=5e-4, nesterov=True))
max_epochs = 1
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=0.4,
        total_steps=176 * max_epochs,  # ceil(45,000 / 256) steps an epoch
        pct_start=0.25,
        by_epoch=False)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs), logger=dict(interval=20))
custom_hooks = [dict(type='ChannelsLastHook')]
