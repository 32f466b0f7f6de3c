"""A BA2M classifier trains in each of the four fast-path settings (fp32, bf16 autocast,
each with and without channels_last), as the Runner trains it: the first step's loss,
gradients and BA2M weights against fp32 contiguous, then a few SGD steps."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from ba2m_mm.analysis.benchmark_settings import FAST_PATHS
from ba2m_mm.launch import CPUAmpOptimWrapper
from ba2m_mm.models.layers import BA2M

# ResNet-18-CIFAR (the testbed's backbone) at width 8, BA2M after every stage, exact global
# attention (no sampled queries: the four runs see the same computation).
MODEL = dict(
    type='ImageClassifier',
    backbone=dict(
        type='BA2MResNet_CIFAR',
        depth=18,
        stem_channels=8,
        base_channels=8,
        ba2m_stages=(True, ) * 4,
        ba2m_cfg=dict(reduction=4, gsa_mode='exact')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=10, in_channels=64, loss=dict(type='CrossEntropyLoss')),
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=10,
        mean=[125.3, 123.0, 113.9],
        std=[63.0, 62.1, 66.7]))


def batch(n=8, size=16):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(0)
    return dict(
        inputs=[
            torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8) for _ in range(n)
        ],
        data_samples=[DataSample().set_gt_label(i % 10) for i in range(n)])


def first_step_and_losses(amp: bool, channels_last: bool, steps: int = 4):
    """Loss, flat gradient and BA2M weights of the first step, and the losses of ``steps``
    SGD steps on one batch (``model.train_step`` through the optimizer wrapper)."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(MODEL)
    model.init_weights()
    for m in model.modules():  # leave the identity, so that BA2M's weights matter
        if isinstance(m, BA2M):
            torch.nn.init.normal_(m.bn.weight, std=0.5)
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)  # as ChannelsLastHook
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    wrapper = (
        CPUAmpOptimWrapper(optimizer=optimizer) if amp else OptimWrapper(optimizer=optimizer))
    data = batch()
    inputs = model.data_preprocessor(data, True)
    with wrapper.optim_context(model):  # bf16 autocast for CPUAmpOptimWrapper
        loss = sum(v for k, v in model(**inputs, mode='loss').items() if 'loss' in k)
    loss.backward()
    grad = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    weights = [m.last_weights for m in model.modules() if isinstance(m, BA2M)]
    wrapper.step()
    wrapper.zero_grad()
    losses = [float(loss.detach())]
    for _ in range(steps - 1):
        losses.append(float(model.train_step(data, wrapper)['loss'].detach()))
    return float(loss.detach()), grad, weights, losses


@pytest.fixture(scope='module')
def reference():
    return first_step_and_losses(amp=False, channels_last=False)


@pytest.mark.parametrize('setting', list(FAST_PATHS))
def test_ba2m_trains_in_each_fast_path(setting, reference):
    """fp32 + channels_last matches fp32 contiguous to summation order; bf16 (with or
    without channels_last) to bf16 precision: measured 2.5% relative gradient error and
    5e-3 in the weights (which stay fp32: the batch softmax runs in fp32)."""
    amp, channels_last = FAST_PATHS[setting]  # the benchmark tool's four settings
    loss, grad, weights, losses = first_step_and_losses(amp, channels_last)
    ref_loss, ref_grad, ref_weights, _ = reference
    grad_error = float((grad - ref_grad).norm() / ref_grad.norm())
    tol = dict(
        loss=2e-2, grad=6e-2, weights=2e-2) if amp else dict(
            loss=1e-5, grad=1e-4, weights=1e-5)
    assert abs(loss - ref_loss) < tol['loss']
    assert grad_error < tol['grad'], grad_error
    assert len(weights) == 4
    for w, ref_w in zip(weights, ref_weights):
        assert w.dtype == torch.float32
        assert float(w.std()) > 0.01  # BA2M reweighs the batch
        assert float((w - ref_w).abs().max()) < tol['weights']
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0] - 0.1, losses  # it learns (one batch, 4 SGD steps)
