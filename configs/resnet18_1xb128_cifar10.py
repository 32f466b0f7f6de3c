# Plain ResNet-18 (CIFAR stem) on CIFAR-10, the BA2M twin's reference: the full recipe on
# one GPU. Upstream recipe: mmpretrain's resnet18_8xb16_cifar10 (SGD lr 0.1, momentum 0.9,
# weight decay 1e-4, 200 epochs, lr x0.1 at 100/150, random crop with 4-pixel padding +
# flip), here with all 128 images of a step on one GPU (the batch BA2M's softmax sees in
# the twin; the paper's N = 128 point of Fig. 5).
# Data: CIFAR-10 as JPEG files (shared/data/cifar10-jpeg.tar.gz), decoded once per split by
# CIFAR10Decoded, with a validation split held out of the training images: meta/train.txt
# (45,000), meta/val.txt (5,000, 500 per class, seeded), meta/test.txt (10,000). Every entry
# point prepares data/cifar10/ from the archive the first time (extract, split lists,
# decode; about a minute). The official python release: resnet18_ba2m_1xb128_cifar10_official.py.
_base_ = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'

custom_imports = dict(imports=['ba2m_mm', 'ba2m_mm.datasets'], allow_failed_imports=False)

data_root = 'data/cifar10/'
archive = '../shared/data/cifar10-jpeg.tar.gz'
data_preprocessor = dict(to_rgb=False)  # CIFAR10Decoded gives RGB arrays, as upstream's CIFAR10
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        _delete_=True,
        type='CIFAR10Decoded',
        data_root=data_root,
        split='train',
        archive=archive,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    dataset=dict(
        _delete_=True,
        type='CIFAR10Decoded',
        data_root=data_root,
        split='val',
        archive=archive,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=256,
    dataset=dict(
        _delete_=True,
        type='CIFAR10Decoded',
        data_root=data_root,
        split='test',
        archive=archive,
        pipeline=test_pipeline))
