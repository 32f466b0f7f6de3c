"""The CIFAR-10 testbed: fair twins (same init, same data), its controls, its data and its
fast path (channels_last)."""
import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from ba2m_mm.models.layers import BA2M, RandomBA2M, SqueezeExcitation

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCHIVE = osp.join(osp.dirname(REPO), 'shared', 'data', 'cifar10-jpeg.tar.gz')
needs_archive = pytest.mark.skipif(
    not osp.isfile(ARCHIVE), reason='needs ../shared/data/cifar10-jpeg.tar.gz')
TESTBED = {
    arm: osp.join(REPO, 'configs', f'resnet18_{arm}cifar10_testbed.py')
    for arm in ('', 'ba2m_', 'se_', 'se_identity_', 'random_')
}


def build_classifier(config: str, seed: int = 0):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


@pytest.mark.parametrize('arm', ['ba2m_', 'se_', 'se_identity_', 'random_'])
def test_same_seed_same_initial_weights_as_the_plain_twin(arm):
    """Every parameter the arm shares with the plain twin (backbone and head) is
    equal after building and init_weights() with the same seed: the added modules
    draw from a generator of their own (before: 18 of 19 conv/fc tensors differed)."""
    plain = build_classifier(TESTBED[''])
    other = build_classifier(TESTBED[arm])
    shared = plain.state_dict()
    theirs = other.state_dict()
    assert set(shared) < set(theirs)
    different = [k for k, v in shared.items() if not torch.equal(v, theirs[k])]
    assert different == []
    # ... and the added modules are initialised (not left at zeros), reproducibly
    again = build_classifier(TESTBED[arm])
    extra = sorted(set(theirs) - set(shared))
    assert extra and all(torch.equal(theirs[k], again.state_dict()[k]) for k in extra)
    # another seed changes the backbone
    other_seed = build_classifier(TESTBED[''], seed=1)
    assert not torch.equal(other_seed.backbone.conv1.weight, plain.backbone.conv1.weight)


def test_testbed_twins_differ_only_in_the_backbone():
    plain = Config.fromfile(TESTBED['']).to_dict()
    for arm in ('ba2m_', 'se_', 'se_identity_', 'random_'):
        cfg = Config.fromfile(TESTBED[arm]).to_dict()
        backbone = cfg['model'].pop('backbone')
        reference = dict(plain['model']['backbone'])
        assert backbone.pop('type') == 'BA2MResNet_CIFAR' and reference.pop(
            'type') == 'ResNet_CIFAR'
        for key in ('ba2m_cfg', 'ba2m_stages', 'ba2m_position'):
            backbone.pop(key, None)
        assert backbone == reference
        assert cfg['model'] == {k: v for k, v in plain['model'].items() if k != 'backbone'}
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'param_scheduler',
                    'train_cfg', 'randomness', 'data_preprocessor'):
            assert cfg.get(key) == plain.get(key), (arm, key)
        assert cfg['optim_wrapper'] == plain['optim_wrapper'], arm
    ba2m = Config.fromfile(TESTBED['ba2m_'])
    assert ba2m.model.backbone.ba2m_cfg == dict(reduction=4, strength=ba2m.ba2m_strength)
    random = Config.fromfile(TESTBED['random_'])
    assert random.model.backbone.ba2m_cfg.type == 'RandomBA2M'
    assert random.custom_hooks[1] == dict(type='MatchedSpreadHook', source='../ba2m_seed{seed}')


def test_strength_is_an_lr_multiplier_of_its_square():
    """One SGD step of BA2M at strength s moves the applied gamma and beta of its
    branch BN as one step at strength 1 with s^2 times the learning rate, from the
    same start (the identity), and leaves every other parameter's step unchanged."""
    x = torch.rand(8, 16, 5, 5) * torch.rand(8, 1, 1, 1)
    target = torch.linspace(-1, 1, 8).view(8, 1, 1, 1)
    applied = {}
    for strength, lr in ((3.0, 0.01), (1.0, 0.09)):
        torch.manual_seed(0)
        m = BA2M(16, reduction=4, strength=strength).train()
        m.init_weights()
        assert torch.equal(m(x), x)  # the identity at the start, whatever the strength
        optimizer = torch.optim.SGD(m.bn.parameters(), lr=lr)
        m.bn.weight.data.fill_(0.1 / strength)  # applied gamma 0.1 in both
        (m(x) * target).sum().backward()
        optimizer.step()
        applied[strength] = [t.detach() for t in m.bn.affine()]
    for a, b in zip(applied[3.0], applied[1.0]):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match=r'strength must be a number in \(0, 100\], got 0'):
        BA2M(16, reduction=4, strength=0)


def test_squeeze_excitation_in_every_block():
    model = build_classifier(TESTBED['se_'])
    se = [m for m in model.modules() if isinstance(m, SqueezeExcitation)]
    assert [m.name for m in se] == [f'layer{i}.{j}' for i in range(1, 5) for j in range(2)]
    # squeeze C / 4 rounded up to a multiple of 8: 16 -> 8, 32 -> 8, 64 -> 16, 128 -> 32
    assert [m.conv1.conv.out_channels for m in se[::2]] == [8, 8, 16, 32]
    x = torch.rand(2, 16, 4, 4)
    squeezed = torch.relu(se[0].conv1.conv(x.mean(dim=(2, 3), keepdim=True)))  # (2, 8, 1, 1)
    gate = torch.sigmoid(se[0].conv2.conv(squeezed))  # (2, 16, 1, 1)
    torch.testing.assert_close(se[0](x), x * gate)
    with pytest.raises(
            ValueError, match=r'reduction must be an int in \[1, in_channels=16\], '
            'got 32'):
        SqueezeExcitation(16, reduction=32)


def test_identity_start_squeeze_excitation_is_the_identity_at_init_and_trains():
    """identity_start: gate 2 * sigmoid(.) with W2 = 0, so exactly x at init for any
    input (the plain SE gives x / 2 where its squeeze is 0); one SGD step moves it."""
    se = SqueezeExcitation(16, reduction=4, identity_start=True)
    se.init_weights()
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(se(x), x)
    plain = SqueezeExcitation(16, reduction=4)
    plain.init_weights()
    zeros = torch.zeros(2, 16, 5, 5)
    ones = torch.ones(2, 16, 1, 1)
    assert torch.equal(plain.conv2(plain.conv1(plain.global_avgpool(zeros))), ones / 2)
    # the identity-start twin of the testbed: its output equals the plain twin's at init
    model, reference = build_classifier(TESTBED['se_identity_']), build_classifier(TESTBED[''])
    images = torch.rand(2, 3, 32, 32)
    model.eval(), reference.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(images), reference(images), rtol=0, atol=0)
    # it trains: W2 gets a gradient at step 0, and after a step the gate leaves 1
    optimizer = torch.optim.SGD(se.parameters(), lr=1.0)
    (se(x) * torch.randn_like(x)).sum().backward()
    assert se.conv2.conv.weight.grad.abs().sum() > 0
    optimizer.step()
    gate = se.conv2(se.conv1(se.global_avgpool(x))) * 2  # (2, 16, 1, 1)
    torch.testing.assert_close(se(x), x * gate)
    assert not torch.equal(gate, torch.ones_like(gate))
    with pytest.raises(ValueError, match=r'identity_start must be a bool, got 1'):
        SqueezeExcitation(16, identity_start=1)


def write_scalars(work_dir, rows):
    path = osp.join(work_dir, '20260101_000000', 'vis_data')
    import os
    os.makedirs(path)
    with open(osp.join(path, 'scalars.json'), 'w') as f:
        for row in rows:
            f.write(json.dumps(row) + '\n')


def test_matched_spread_hook_follows_the_ba2m_run(tmp_path):
    from mmengine.logging import MMLogger

    from ba2m_mm.engine import MatchedSpreadHook
    source = tmp_path / 'ba2m_seed7'
    write_scalars(
        str(source), [{
            'step': 1,
            'ba2m/layer1/log_w_std': 0.0,
            'ba2m/layer2/log_w_std': 0.0
        }, {
            'step': 2,
            'ba2m/layer1/log_w_std': 0.25,
            'ba2m/layer2/log_w_std': 0.5
        }, {
            'step': 4,
            'ba2m/layer1/log_w_std': 0.75,
            'ba2m/layer2/log_w_std': 1.5
        }])
    modules = [RandomBA2M(8, reduction=4, name=n) for n in ('layer1', 'layer2')]
    runner = SimpleNamespace(
        seed=7,
        work_dir=str(tmp_path / 'random_seed7'),
        model=torch.nn.Sequential(*modules),
        logger=MMLogger.get_instance('test_matched_spread'),
        iter=0)
    hook = MatchedSpreadHook('../ba2m_seed{seed}')
    hook.before_train(runner)
    seen = []
    for it in range(5):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append((modules[0].sigma, modules[1].sigma))
    # iteration i uses the spread BA2M logged for it (step i + 1; the last one before gaps)
    assert seen == [(0.0, 0.0), (0.25, 0.5), (0.25, 0.5), (0.75, 1.5), (0.75, 1.5)]
    runner.seed = 8
    with pytest.raises(
            FileNotFoundError,
            match=r'no BA2M run at source=.*ba2m_seed8.*train the '
            'BA2M arm of this seed first'):
        MatchedSpreadHook('../ba2m_seed{seed}').before_train(runner)


def test_weight_hook_logs_the_spread_of_the_log_weights():
    from ba2m_mm.engine import ba2m_weight_stats
    w = torch.softmax(torch.tensor([0.0, 0.5, -0.5, 1.0]), dim=0) * 4
    stats = ba2m_weight_stats(w)
    assert stats['log_w_std'] == pytest.approx(float(w.log().std(correction=0)))
    assert stats['log_w_std'] == pytest.approx(
        float(torch.tensor([0.0, 0.5, -0.5, 1.0]).std(correction=0)))


def test_channels_last_ba2m_module_matches_contiguous():
    torch.manual_seed(0)
    ba2m = BA2M(32, reduction=4, zero_init=False, gsa_mode='exact').train()
    ba2m.init_weights()
    twin = BA2M(32, reduction=4, zero_init=False, gsa_mode='exact').train()
    twin.load_state_dict(ba2m.state_dict())
    twin.to(memory_format=torch.channels_last)  # raised: 5-D buffers
    x = torch.rand(4, 32, 6, 6) * torch.rand(4, 1, 1, 1)
    x_cl = x.clone().to(memory_format=torch.channels_last).requires_grad_()
    x = x.requires_grad_()
    y, y_cl = ba2m(x), twin(x_cl)
    assert y_cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y_cl, y)
    g = torch.randn_like(y)
    y.backward(g)
    y_cl.backward(g)
    torch.testing.assert_close(x_cl.grad, x.grad)
    for (name, p), p_cl in zip(ba2m.named_parameters(), twin.parameters()):
        torch.testing.assert_close(p_cl.grad, p.grad, rtol=1e-4, atol=1e-4, msg=name)


@pytest.mark.parametrize('backbone', [
    dict(type='mmpretrain.BA2MResNet_CIFAR', depth=18, stem_channels=16, base_channels=16),
    dict(type='mmpretrain.BA2MResNet', depth=18),
    dict(type='mmpretrain.BA2MResNeXt', depth=50, groups=4, width_per_group=4),
    dict(type='mmpretrain.BA2MMobileNetV2', widen_factor=0.5),
    dict(type='mmpretrain.BA2MShuffleNetV2', widen_factor=0.5),
    dict(type='mmpretrain.BA2MDenseNet', arch='121'),
    dict(type='mmpretrain.BA2MEfficientNet', arch='b0'),
    dict(type='mmdet.BA2MResNet', depth=18),
])
def test_channels_last_backbones_match_contiguous(backbone):
    """Outputs and gradients of the channels_last copy agree with the contiguous
    model as closely as they do for the same backbone without BA2M (fp32 sums run
    in another order; upstream MobileNetV2 alone differs by 2% in its gradients
    at a batch of 2)."""
    from mmengine.registry import MODELS

    import ba2m_mm.models  # noqa: F401
    cfg = dict(backbone, ba2m_cfg=dict(reduction=4, gsa_mode='exact'))
    errors = channels_last_errors(MODELS, cfg)  # (output, gradients)
    assert errors[0] < 1e-3 and errors[1] < 3e-2 or errors[1] < 1.1 * channels_last_errors(
        MODELS, dict(cfg, ba2m_stages=(False, ) * errors[2]))[1] + 1e-3, errors


def channels_last_errors(registry, cfg):
    """Relative errors of the channels_last copy of ``cfg``'s backbone: outputs
    and all gradients as one vector; and the number of stages."""
    torch.manual_seed(0)
    model = registry.build(cfg)
    model.init_weights()
    for m in model.modules():  # leave the identity, so that the weights matter
        if isinstance(m, BA2M):
            torch.nn.init.normal_(m.bn.weight, std=0.1)
    model.train()
    twin = registry.build(cfg)
    twin.load_state_dict(model.state_dict())
    twin.train()
    twin.to(memory_format=torch.channels_last)  # raised for every BA2M backbone
    size = 32 if 'CIFAR' in cfg['type'] else 96
    x = torch.rand(4, 3, size, size)  # BN of the last stages sees 4 x 3 x 3 values
    outs = model(x)
    outs_cl = twin(x.contiguous(memory_format=torch.channels_last))
    outs = outs if isinstance(outs, tuple) else (outs, )
    outs_cl = outs_cl if isinstance(outs_cl, tuple) else (outs_cl, )
    out_error = max(relative_error(a, b) for a, b in zip(outs_cl, outs))
    sum(o.square().mean() for o in outs).backward()
    sum(o.square().mean() for o in outs_cl).backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    grads_cl = {n: p.grad for n, p in twin.named_parameters() if p.grad is not None}
    assert sorted(grads_cl) == sorted(grads)
    flat, flat_cl = (torch.cat([g[n].flatten() for n in sorted(grads)]) for g in (grads, grads_cl))
    return out_error, relative_error(flat_cl, flat), len(model.ba2m_stages)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b||: fp32 summation order differs between memory formats."""
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


@needs_archive
def test_decoded_dataset_prepares_and_caches(tmp_path):
    from ba2m_mm.datasets import CIFAR10Decoded, ensure_cifar10_jpeg
    root = str(tmp_path / 'cifar10')
    ensure_cifar10_jpeg(root, ARCHIVE, per_class=20)
    dataset = CIFAR10Decoded(data_root=root, split='val')
    assert len(dataset) == 20
    listing = [line.split() for line in open(osp.join(root, 'meta', 'val.txt'))]
    import numpy as np
    from PIL import Image
    for i in (0, 7, 19):
        item = dataset[i]
        assert item['img'].dtype == np.uint8 and item['img'].shape == (32, 32, 3)
        path, label = listing[i]
        assert item['gt_label'] == int(label)
        assert np.array_equal(item['img'],
                              np.asarray(Image.open(osp.join(root, path)).convert('RGB')))
    import glob
    assert len(glob.glob(osp.join(root, 'decoded', 'val-*.npz'))) == 1  # decoded once, cached
    assert len(CIFAR10Decoded(data_root=root, split='test')) == 200


def test_decoded_dataset_missing_data_says_how_to_prepare_it(tmp_path):
    from ba2m_mm.datasets import CIFAR10Decoded
    missing = str(tmp_path / 'nowhere.tar.gz')
    with pytest.raises(FileNotFoundError) as e:
        CIFAR10Decoded(data_root=str(tmp_path / 'data' / 'cifar10'), archive=missing)
    message = str(e.value)
    assert missing in message and 'tar -xzf cifar10-jpeg.tar.gz' in message
    assert 'make_cifar10_splits' in message
    assert 'resnet18_ba2m_1xb128_cifar10_official.py' in message
    with pytest.raises(ValueError, match="split must be one of .* got 'dev'"):
        CIFAR10Decoded(data_root=str(tmp_path), split='dev')


@needs_archive
def test_decoded_dataset_prepares_an_empty_data_root_from_the_archive(tmp_path, monkeypatch):
    """What tools/train.py, tools/test.py, the launchers and compare.py all build: on
    an empty data/, the dataset extracts the archive, writes the split lists and
    decodes (here a slice of 10 images per class, to stay small)."""
    from ba2m_mm.datasets import CIFAR10Decoded, cifar10_decoded, ensure_cifar10_jpeg
    monkeypatch.setattr(cifar10_decoded, 'ensure_cifar10_jpeg',
                        lambda root, archive: ensure_cifar10_jpeg(root, archive, per_class=10))
    root = tmp_path / 'data' / 'cifar10'
    dataset = CIFAR10Decoded(data_root=str(root), split='train', archive=ARCHIVE)
    assert len(dataset) == 90  # 10 per class, 1 of them held out for val
    assert sorted({item['gt_label'] for item in dataset}) == list(range(10))
    assert (root / 'meta' / 'val.txt').is_file() and (root / 'train' / 'airplane').is_dir()
