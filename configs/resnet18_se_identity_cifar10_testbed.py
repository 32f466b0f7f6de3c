# The SE positive control started as the identity (resnet18_se_cifar10_testbed.py with
# SqueezeExcitation(identity_start=True)): gate 2 * sigmoid(W2 relu(W1 GAP(x))) with W2 = 0
# at init, so every block starts exactly as the plain twin's, as BA2M does. The plain SE
# gate starts at sigmoid(0) = 0.5 on the zero-initialised residual branches.
_base_ = './resnet18_se_cifar10_testbed.py'

model = dict(backbone=dict(ba2m_cfg=dict(identity_start=True)))
