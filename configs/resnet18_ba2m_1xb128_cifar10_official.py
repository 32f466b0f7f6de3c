# resnet18_ba2m_1xb128_cifar10.py on the official CIFAR-10 python release
# (cifar-10-batches-py, read by mmpretrain's CIFAR10 dataset from data/cifar10-py/), as
# upstream: train on all 50,000 training images and evaluate on the test split (there is
# no held-out validation split in this variant). Nothing is downloaded at run time here:
# put the extracted release in data/cifar10-py/ first.
_base_ = './resnet18_ba2m_1xb128_cifar10.py'

data_root = 'data/cifar10-py/'
data_preprocessor = dict(to_rgb=False)  # CIFAR10 gives RGB arrays
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]
train_dataloader = dict(
    dataset=dict(
        _delete_=True, type='CIFAR10', data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True, type='CIFAR10', data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
