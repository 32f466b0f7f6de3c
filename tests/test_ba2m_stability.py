"""BA2M starts as the identity and stays stable (issue: winner-take-all at N = 128)."""
import os.path as osp

import pytest
import torch

from ba2m_mm.models.layers import BA2M, RandomBA2M

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCHIVE = osp.join(osp.dirname(REPO), 'shared', 'data', 'cifar10-jpeg.tar.gz')


def test_weights_exactly_one_at_initialisation():
    torch.manual_seed(0)
    ba2m = BA2M(32, reduction=4)
    ba2m.init_weights()
    ba2m.train()
    x = torch.rand(8, 32, 6, 6) * torch.rand(8, 1, 1, 1) * 10  # very different images
    y = ba2m(x)
    assert torch.equal(ba2m.last_weights, torch.ones(8))
    assert torch.equal(y, x)
    assert torch.equal(ba2m.bn.weight, torch.zeros(3, 32))  # gamma = 0 in init_weights
    # ... and departs from 1 through learning: gamma gets a gradient
    (y * torch.randn_like(y)).sum().backward()
    assert ba2m.bn.weight.grad.abs().sum() > 0


def test_backbone_weights_exactly_one_at_initialisation():
    from ba2m_mm.models.backbones.mmpretrain_ba2m_resnet import BA2MResNet_CIFAR
    torch.manual_seed(0)
    backbone = BA2MResNet_CIFAR(
        depth=18,
        stem_channels=16,
        base_channels=16,
        ba2m_stages=(True, ) * 4,
        ba2m_cfg=dict(reduction=8))
    backbone.init_weights()
    backbone.train()
    backbone(torch.rand(4, 3, 32, 32))
    for m in backbone.ba2m_modules():
        assert torch.equal(m.last_weights, torch.ones(4)), m.name


@pytest.mark.parametrize('n, zero_init', [(2, True), (4, True), (8, True), (2, False)])
def test_no_early_blow_up_over_50_forwards(n, zero_init):
    """50 training forwards on distinct inputs, no learning: every weight in
    [0.25, 1.75] with the defaults; and at N = 2 with the default statistics even
    when gamma starts at 1 (with the running statistics of the batches before,
    N = 2 gave (2.0, 0.0) at the second forward)."""
    torch.manual_seed(n)
    ba2m = BA2M(64, reduction=8, zero_init=zero_init)
    ba2m.init_weights()
    ba2m.train()
    weights = []
    for _ in range(50):
        ba2m(torch.relu(torch.randn(n, 64, 8, 8)))
        weights.append(ba2m.last_weights)
    weights = torch.stack(weights)  # (50, N)
    assert weights.min() >= 0.25 and weights.max() <= 1.75, (weights.min(), weights.max())


def test_running_statistics_of_earlier_batches_blow_up_at_two_images():
    """The failure the default avoids: normalising with the statistics of the
    batches before (the prior, then one 2-sample variance) zeroes an image."""
    torch.manual_seed(0)
    ba2m = BA2M(64, reduction=8, zero_init=False, statistics='running')
    ba2m.init_weights()
    ba2m.train()
    weights = []
    for i in range(10):
        ba2m(torch.relu(torch.randn(2, 64, 8, 8)) * (1 + i % 3))
        weights.append(ba2m.last_weights)
    assert torch.stack(weights).min() < 0.05  # (1.98, 0.02) at the second forward


def test_statistics_choices():
    torch.manual_seed(0)
    x1, x2 = torch.rand(4, 16, 5, 5), torch.rand(4, 16, 5, 5) * 3
    out = {}
    for stats in ('running', 'batch', 'running_with_batch'):
        torch.manual_seed(1)
        ba2m = BA2M(16, reduction=4, statistics=stats, zero_init=False).train()
        ba2m.branch_responses(x1)
        out[stats] = (ba2m.branch_responses(x2), ba2m.bn.running_mean.clone())
    # every choice adds the batches to the running statistics the same way
    torch.testing.assert_close(out['running'][1], out['batch'][1])
    torch.testing.assert_close(out['running'][1], out['running_with_batch'][1])
    # 'batch' standardises the batch: every channel of the channel branch has mean beta = 0
    torch.testing.assert_close(out['batch'][0][0].mean(dim=0), torch.zeros(16), atol=1e-5, rtol=0)
    assert not torch.allclose(out['running'][0], out['running_with_batch'][0])
    with pytest.raises(ValueError, match="statistics must be one of .* got 'ema'"):
        BA2M(16, reduction=4, statistics='ema')
    with pytest.raises(ValueError, match='zero_init must be a bool, got 0'):
        BA2M(16, reduction=4, zero_init=0)


def test_random_control_weights():
    torch.manual_seed(0)
    control = RandomBA2M(16, sigma=0.5, reduction=4).train()
    x = torch.rand(4096, 16, 2, 2)
    control(x)
    log_w = control.last_weights.log()
    assert control.last_weights.mean().item() == pytest.approx(1.0, abs=1e-5)  # N softmax
    assert log_w.std().item() == pytest.approx(0.5, rel=0.05)  # sigma of the noise SARs
    assert torch.equal(control.eval()(x), x)
    with pytest.raises(ValueError, match='sigma must be a number >= 0, got -1'):
        RandomBA2M(16, sigma=-1, reduction=4)
    per_stage = dict(layer1=0.2, layer2=0.0)
    assert RandomBA2M(16, sigma=per_stage, reduction=4, name='layer1').sigma == 0.2
    with pytest.raises(ValueError, match=r"\(layer3\): sigma has no entry for 'layer3'"):
        RandomBA2M(16, sigma=per_stage, reduction=4, name='layer3')


@pytest.mark.skipif(not osp.isfile(ARCHIVE), reason='needs ../shared/data/cifar10-jpeg.tar.gz')
def test_no_winner_take_all_at_n128_on_cifar10(tmp_path):
    """The first 12 SGD steps (lr 0.05) of the CPU-budget BA2M ResNet-18 (all four stages) at
    N = 128 CIFAR-10 photos: every weight <= 4 and the loss <= 4 (before: max weight 128
    of 128 and losses 183-943)."""
    from mmengine.config import Config

    from ba2m_mm.compare.first_steps import first_steps
    from ba2m_mm.datasets import ensure_cifar10_jpeg
    root = str(tmp_path / 'cifar10')
    counts = ensure_cifar10_jpeg(root, ARCHIVE, per_class=180)
    assert counts['train'] >= 128 * 12
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'resnet18_ba2m_cpu_cifar10.py'))
    cfg.model.backbone.ba2m_stages = (True, ) * 4
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.dataset.indices = None
    records = first_steps(cfg, steps=12, lr=0.05, batch_size=128)
    assert len(records) == 12
    for step, r in enumerate(records):
        assert r['loss'] <= 4, (step, r)
        assert len(r['ba2m']) == 4
        for stage, w in r['ba2m'].items():
            assert w['w_max'] <= 4, (step, stage, w)
