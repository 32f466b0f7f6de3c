# Plain ResNet-18 (CIFAR stem) on CIFAR-10, the BA2M twin's reference: the full recipe on
# one GPU. Upstream recipe: mmpretrain's resnet18_8xb16_cifar10 (SGD lr 0.1, momentum 0.9,
# weight decay 1e-4, 200 epochs, lr x0.1 at 100/150, random crop with 4-pixel padding +
# flip), here with all 128 images of a step on one GPU (the batch BA2M's softmax sees in
# the twin; the paper's N = 128 point of Fig. 5).
# Data: CIFAR-10 as JPEG files (shared/data/cifar10-jpeg.tar.gz, read by mmpretrain's
# CustomDataset) with a validation split held out of the training images:
#   tar -xzf ../shared/data/cifar10-jpeg.tar.gz -C data/
#   python -c "from ba2m_mm.datasets import make_cifar10_splits as m; m('data/cifar10')"
# -> meta/train.txt (45,000), meta/val.txt (5,000, 500 per class, seeded), meta/test.txt
# (10,000). The official python release: see resnet18_ba2m_1xb128_cifar10_official.py.
_base_ = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'

data_root = 'data/cifar10/'
classes = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
# LoadImageFromFile gives BGR; upstream's CIFAR10 arrays are RGB (its to_rgb=False)
data_preprocessor = dict(to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train.txt',
        metainfo=dict(classes=classes),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/val.txt',
        metainfo=dict(classes=classes),
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=256,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/test.txt',
        metainfo=dict(classes=classes),
        pipeline=test_pipeline))
