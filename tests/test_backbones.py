"""Tests of the BA2MResNet backbones (paper Section III-C, Eq. 15, Fig. 4).

Modelled on mmdet's tests/test_models/test_backbones/test_resnet.py; every check runs
for the mmdet and the mmpretrain class where both apply.
"""
import copy
import doctest
import os.path as osp

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from ba2m_mm.models.layers import BA2M

mmdet_backbones = pytest.importorskip('mmdet.models.backbones')
mmpretrain_backbones = pytest.importorskip('mmpretrain.models.backbones')
from mmdet.registry import MODELS as MMDET_MODELS  # noqa: E402
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS  # noqa: E402

from ba2m_mm.models.backbones import mmdet_ba2m_resnet, mmpretrain_ba2m_resnet  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# (ours, upstream) per library.
LIBS = {
    'mmdet': (mmdet_ba2m_resnet.BA2MResNet, mmdet_backbones.ResNet),
    'mmpretrain': (mmpretrain_ba2m_resnet.BA2MResNet, mmpretrain_backbones.ResNet),
    'cifar': (mmpretrain_ba2m_resnet.BA2MResNet_CIFAR, mmpretrain_backbones.ResNet_CIFAR),
}
BOTH = ['mmdet', 'mmpretrain']
ALL = ['mmdet', 'mmpretrain', 'cifar']
POSITIONS = ['between', 'inside']


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def tiny_kwargs(depth=18, base=8, **kwargs):
    """Same small architecture in both libraries (their defaults differ)."""
    cfg = dict(
        depth=depth,
        base_channels=base,
        stem_channels=base,
        out_indices=(0, 1, 2, 3),
        norm_eval=False,
        init_cfg=None)
    cfg.update(kwargs)
    return cfg


def build(lib, depth=18, base=8, ba2m_cfg=None, **kwargs):
    ours, _ = LIBS[lib]
    # zero_init=False: BA2M at full strength, so that the tests see its weights act
    model = ours(
        ba2m_cfg=ba2m_cfg or dict(reduction=4, zero_init=False),
        **tiny_kwargs(depth, base, **kwargs))
    model.init_weights()
    return model


def ba2m_names(model):
    return [name for name, m in model.named_modules() if isinstance(m, BA2M)]


def randomize_(model, seed=0):
    """Random weights and BN statistics, so that loaded values differ from a fresh init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
    return model


def stage_sizes(lib, size=32):
    """Spatial size of each stage output for a ``size`` x ``size`` input."""
    first = size if lib == 'cifar' else size // 4
    return [max(first >> i, 1) for i in range(4)]


@pytest.mark.parametrize('lib', ALL)
@pytest.mark.parametrize('depth, base', [(18, 8), (34, 4), (50, 8), (101, 2), (152, 2)])
def test_output_shapes(lib, depth, base):
    """Stage output shapes for every depth; every BA2M ran in the training forward."""
    ba2m_cfg = dict(reduction=2 if base == 2 else 4)
    model = build(lib, depth, base, ba2m_cfg=ba2m_cfg).train()
    expansion = 1 if depth < 50 else 4
    outs = model(torch.rand(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, base * expansion * 2**i, s, s)
                                              for i, s in enumerate(stage_sizes(lib))]
    assert ba2m_names(model) == ['ba2m1', 'ba2m2', 'ba2m3', 'ba2m4']
    for name in ba2m_names(model):
        weights = getattr(model, name).last_weights
        assert weights.shape == (2, )
        torch.testing.assert_close(weights.mean(), torch.tensor(1.0))  # scaled_softmax


@pytest.mark.parametrize('lib', ALL)
def test_between_placement_and_eq15(lib):
    """'between': ba2m{i} only after the selected stages; the weighted stage output is
    both returned and fed to the next stage (Eq. 15)."""
    model = build(lib, ba2m_stages=(False, True, False, True)).train()
    assert ba2m_names(model) == ['ba2m2', 'ba2m4']
    assert [model.ba2m2.name, model.ba2m4.name] == ['layer2', 'layer4']
    assert [model.ba2m2.in_channels, model.ba2m4.in_channels] == [16, 64]
    extra = set(model.state_dict()) - set(LIBS[lib][1](**tiny_kwargs()).state_dict())
    assert extra and all(k.startswith(('ba2m2.', 'ba2m4.')) for k in extra)

    seen = {}
    # prepend: before BA2M's hook on layer2, i.e. F_2(x) before weighting
    model.layer2.register_forward_hook(lambda m, i, o: seen.update(f2=o.clone()), prepend=True)
    model.layer3.register_forward_pre_hook(lambda m, i: seen.update(in3=i[0].clone()))
    outs = model(torch.rand(3, 3, 32, 32))
    weighted = seen['f2'] * model.ba2m2.last_weights.view(-1, 1, 1, 1)  # w_2i F_2(x_i)
    torch.testing.assert_close(outs[1], weighted)
    torch.testing.assert_close(seen['in3'], weighted)
    assert not torch.allclose(outs[1], seen['f2'])  # BA2M really changed the features


@pytest.mark.parametrize('lib', ALL)
@pytest.mark.parametrize('depth', [18, 50])
def test_inside_placement_and_fig4c(lib, depth):
    """'inside': layer{i}.{j}.ba2m in every block of the selected stages, weighting the
    residual branch after its last norm layer, before the addition (Fig. 4c)."""
    model = build(lib, depth, ba2m_stages=(True, False, False, True), ba2m_position='inside')
    blocks = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
    expected = [f'layer{i}.{j}.ba2m' for i in (1, 4) for j in range(blocks[i - 1])]
    assert ba2m_names(model) == expected
    for name in expected:
        assert model.get_submodule(name).name == name[:-len('.ba2m')]
    assert not hasattr(model, 'ba2m1') and model.ba2m_names == [None] * 4

    block = model.layer4[1]  # no downsample: identity is the block input
    norm = block.norm3 if depth == 50 else block.norm2
    seen = {}
    norm.register_forward_hook(lambda m, i, o: seen.update(raw=o.clone()), prepend=True)
    norm.register_forward_hook(lambda m, i, o: seen.update(weighted=o.clone()))
    block.register_forward_pre_hook(lambda m, i: seen.update(x=i[0].clone()))
    block.register_forward_hook(lambda m, i, o: seen.update(out=o.clone()))
    model.train()(torch.rand(3, 3, 32, 32))
    weights = block.ba2m.last_weights.view(-1, 1, 1, 1)
    torch.testing.assert_close(seen['weighted'], seen['raw'] * weights)
    torch.testing.assert_close(seen['out'], torch.relu(seen['weighted'] + seen['x']))


@pytest.mark.parametrize('lib', BOTH)
def test_inside_survives_deepcopy_and_syncbn_reversion(lib):
    """The 'inside' hook follows copies (EMA) and norm layers replaced by mmengine's
    SyncBN reversion (the Runner does that on non-distributed runs)."""
    from mmengine.model import revert_sync_batchnorm
    model = build(lib, ba2m_position='inside', norm_cfg=dict(type='SyncBN'))
    model = revert_sync_batchnorm(model).train()
    assert not isinstance(model.layer1[0].norm2, torch.nn.SyncBatchNorm)
    twin = copy.deepcopy(model)
    model(torch.rand(2, 3, 32, 32))
    assert all(
        getattr(m, 'last_weights', 0) is not None for m in model.modules() if isinstance(m, BA2M))
    assert all(m.last_weights is None for m in twin.modules() if isinstance(m, BA2M))
    twin(torch.rand(2, 3, 32, 32))
    assert all(m.last_weights is not None for m in twin.modules() if isinstance(m, BA2M))
    hooks = list(twin.layer3[0].norm2._forward_hooks.values())
    assert len(hooks) == 1 and hooks[0].ba2m is twin.layer3[0].ba2m


@pytest.mark.parametrize('lib', BOTH)
@pytest.mark.parametrize('position', POSITIONS)
def test_frozen_stages(lib, position):
    """A frozen stage's BA2M is frozen with it: no gradients, eval mode, identity."""
    with pytest.warns(UserWarning, match=r'stage\(s\) \[1, 2\] is frozen with frozen_stages=2'):
        model = build(lib, frozen_stages=2, ba2m_position=position)
    model.train()
    for stage in (1, 2, 3, 4):
        frozen = stage <= 2
        for ba2m in model.stage_ba2m(stage):
            assert ba2m.training is not frozen
            assert all(p.requires_grad is not frozen for p in ba2m.parameters())
            assert all(m.training is not frozen for m in ba2m.modules())
        layer = getattr(model, f'layer{stage}')
        assert all(p.requires_grad is not frozen for p in layer.parameters())
    model(torch.rand(2, 3, 32, 32))
    for stage in (1, 2, 3, 4):
        ran = [ba2m.last_weights is not None for ba2m in model.stage_ba2m(stage)]
        assert ran == [stage > 2] * len(ran)


@pytest.mark.parametrize('lib', BOTH)
@pytest.mark.parametrize('position', POSITIONS)
def test_norm_eval_keeps_active_ba2m_bn_training(lib, position):
    """norm_eval=True: the backbone's BN in eval mode; the BN of active BA2M modules
    (running statistics, not a _BatchNorm) keeps updating, a frozen stage's does not."""
    with pytest.warns(UserWarning, match='frozen'):
        model = build(lib, norm_eval=True, frozen_stages=1, ba2m_position=position)
    model.train()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            assert not m.training
    # num_batches_tracked counts the training forwards of each BA2M's BN.
    stats_before = {
        k: v.clone()
        for k, v in model.state_dict().items() if k.endswith('num_batches_tracked')
    }
    model(torch.rand(2, 3, 32, 32))
    for key, before in stats_before.items():
        changed = not torch.equal(model.state_dict()[key], before)
        in_active_ba2m = '.ba2m' in '.' + key and not key.startswith(('ba2m1.', 'layer1.'))
        assert changed is in_active_ba2m, key


@pytest.mark.parametrize('lib', BOTH)
@pytest.mark.parametrize('position', POSITIONS)
@pytest.mark.parametrize('depth', [18, 50])
@pytest.mark.filterwarnings('ignore:torch.utils.checkpoint')
def test_with_cp_matches_without(lib, position, depth):
    """with_cp=True: same outputs and gradients as without checkpointing."""
    plain = build(lib, depth, ba2m_position=position).train()
    cp_model = build(lib, depth, ba2m_position=position, with_cp=True).train()
    cp_model.load_state_dict(plain.state_dict())
    assert all(block.with_cp for layer in cp_model.res_layers for block in getattr(cp_model, layer))
    x = torch.rand(2, 3, 32, 32)
    results = []
    for model in (plain, cp_model):
        outs = model(x.clone().requires_grad_())
        sum(o.square().mean() for o in outs).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append(
            (outs, grads, [m.last_weights for m in model.modules() if isinstance(m, BA2M)]))
    (outs_a, grads_a, w_a), (outs_b, grads_b, w_b) = results
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(a, b)
    assert grads_a.keys() == grads_b.keys()
    assert any('ba2m' in n for n in grads_a)
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=1e-4, atol=1e-6)
    for a, b in zip(w_a, w_b):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('lib', ALL)
@pytest.mark.parametrize('position', POSITIONS)
@pytest.mark.parametrize('depth', [18, 50])
def test_parity_with_upstream(lib, position, depth):
    """ba2m_stages all False: upstream ResNet exactly (keys, outputs in train and eval).
    BA2M on: upstream weights load, and eval outputs equal upstream (BA2M = identity)."""
    ours, upstream_cls = LIBS[lib]
    torch.manual_seed(0)
    upstream = upstream_cls(**tiny_kwargs(depth))
    randomize_(upstream)
    off = ours(ba2m_stages=(False, ) * 4, ba2m_position=position, **tiny_kwargs(depth))
    assert list(off.state_dict()) == list(upstream.state_dict())
    off.load_state_dict(upstream.state_dict())
    on = ours(ba2m_cfg=dict(reduction=4), ba2m_position=position, **tiny_kwargs(depth))
    missing, unexpected = on.load_state_dict(upstream.state_dict(), strict=False)
    assert not unexpected
    assert missing and all('ba2m' in k for k in missing)
    x = torch.rand(2, 3, 32, 32)
    for mode in (False, True):  # eval first: train forwards update BN statistics
        upstream.train(mode)  # mmdet's ResNet.train returns None
        expected = upstream(x)
        for model in (off, on) if not mode else (off, ):
            for a, b in zip(model.train(mode)(x), expected):
                torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('lib', BOTH)
def test_upstream_variants(lib):
    """style='caffe', deep_stem and avg_down (ResNetV1d) keep working: eval outputs equal
    upstream with the same weights, and BA2M runs in training."""
    _, upstream_cls = LIBS[lib]
    variant = tiny_kwargs(50, style='caffe', deep_stem=True, avg_down=True)
    upstream = randomize_(upstream_cls(**variant))
    model = build(lib, 50, style='caffe', deep_stem=True, avg_down=True)
    assert hasattr(model, 'stem') and not hasattr(model, 'conv1')
    model.load_state_dict(upstream.state_dict(), strict=False)
    x = torch.rand(2, 3, 32, 32)
    upstream.eval()
    for a, b in zip(model.eval()(x), upstream(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    model.train()(x)
    assert all(getattr(model, f'ba2m{i}').last_weights is not None for i in (1, 2, 3, 4))


def save_torchvision_style(path, depth=50, base=8):
    """A torchvision-style ResNet state dict (mmdet ResNet names are torchvision's, plus
    an fc head), written as a bare dict the way torchvision's weights are."""
    upstream = randomize_(mmdet_backbones.ResNet(**tiny_kwargs(depth, base)))
    state = dict(upstream.state_dict())
    state['fc.weight'] = torch.rand(10, base * 32)
    state['fc.bias'] = torch.rand(10)
    torch.save(state, path)
    return upstream.state_dict()


def save_classifier(path, backbone, seed=0):
    """An mmpretrain ImageClassifier checkpoint (keys backbone.*, head.*)."""
    classifier = MMPRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=10, in_channels=backbone['base_channels'] * 32)))
    randomize_(classifier, seed)
    torch.save(dict(meta=dict(), state_dict=classifier.state_dict()), path)
    return {
        k[len('backbone.'):]: v
        for k, v in classifier.state_dict().items() if k.startswith('backbone.')
    }


def assert_loaded(model, expected, ba2m_loaded):
    """Every tensor of ``expected`` is in ``model``; only BA2M tensors are left over,
    and those were (not) loaded as ``ba2m_loaded`` says."""
    state = model.state_dict()
    leftover = set(state) - set(expected)
    assert not set(expected) - set(state)
    for key, value in expected.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    if ba2m_loaded:
        assert not leftover
    else:
        assert leftover and all(k.split('.')[0].startswith('ba2m') for k in leftover)


@pytest.mark.parametrize('lib', BOTH)
def test_pretrained_torchvision_style(lib, tmp_path):
    path = str(tmp_path / 'resnet50_torchvision.pth')
    expected = save_torchvision_style(path)
    ours, _ = LIBS[lib]
    model = ours(
        ba2m_cfg=dict(reduction=4),
        **tiny_kwargs(50, init_cfg=dict(type='Pretrained', checkpoint=path)))
    model.init_weights()
    assert_loaded(model, expected, ba2m_loaded=False)


@pytest.mark.parametrize('lib', BOTH)
def test_pretrained_mmpretrain_resnet_classifier(lib, tmp_path):
    path = str(tmp_path / 'resnet50_mmpretrain.pth')
    expected = save_classifier(path, dict(type='ResNet', **tiny_kwargs(50)))
    ours, _ = LIBS[lib]
    model = ours(
        ba2m_cfg=dict(reduction=4),
        **tiny_kwargs(50, init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.')))
    model.init_weights()
    assert_loaded(model, expected, ba2m_loaded=False)


@pytest.mark.parametrize('position', POSITIONS)
def test_ba2m_classifier_checkpoint_initialises_mmdet_backbone(position, tmp_path):
    """An mmpretrain BA2M-ResNet classifier checkpoint initialises the mmdet BA2MResNet,
    BA2M weights included."""
    path = str(tmp_path / 'ba2m_resnet50_cls.pth')
    backbone = dict(
        type='BA2MResNet', ba2m_cfg=dict(reduction=4), ba2m_position=position, **tiny_kwargs(50))
    expected = save_classifier(path, backbone, seed=1)
    assert any('ba2m' in k for k in expected)
    model = MMDET_MODELS.build(
        dict(backbone, init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.')))
    assert isinstance(model, mmdet_ba2m_resnet.BA2MResNet)
    model.init_weights()
    assert_loaded(model, expected, ba2m_loaded=True)


@pytest.mark.parametrize('position', POSITIONS)
def test_mmdet_plugins_and_dcn(position):
    """BA2M combines with mmdet's in-block plugins (ContextBlock, GeneralizedAttention)
    and DCN; for 'inside', BA2M precedes the after_conv3 plugins."""
    plugins = [
        dict(
            cfg=dict(type='ContextBlock', ratio=1. / 4),
            stages=(False, True, True, True),
            position='after_conv3'),
        dict(
            cfg=dict(
                type='GeneralizedAttention',
                spatial_range=-1,
                num_heads=2,
                attention_type='0010',
                kv_stride=1),
            stages=(False, False, True, True),
            position='after_conv2'),
    ]
    dcn = dict(type='DCNv2', deform_groups=1, fallback_on_stride=False)
    model = build(
        'mmdet',
        50,
        ba2m_position=position,
        plugins=plugins,
        dcn=dcn,
        stage_with_dcn=(False, False, True, False)).train()
    block = model.layer3[0]
    assert hasattr(block, 'context_block') and hasattr(block, 'gen_attention_block')
    assert type(block.conv2).__name__ == 'ModulatedDeformConv2dPack'
    assert not hasattr(model.layer1[0], 'context_block')
    outs = model(torch.rand(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 8, 8), (2, 64, 4, 4), (2, 128, 2, 2),
                                              (2, 256, 1, 1)]
    sum(o.mean() for o in outs).backward()
    ba2ms = [m for m in model.modules() if isinstance(m, BA2M)]
    assert ba2ms and all(m.last_weights is not None for m in ba2ms)
    assert block.context_block.channel_add_conv[0].weight.grad is not None


@pytest.mark.parametrize('lib', BOTH)
def test_num_stages_below_four(lib):
    three = dict(num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2, ))
    model = build(lib, **three)
    assert model.ba2m_stages == (True, ) * 3
    assert ba2m_names(model) == ['ba2m1', 'ba2m2', 'ba2m3']
    (out, ) = model.train()(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 32, 2, 2)
    message = r'ba2m_stages must be .* 3 bools .*\(True, True, True, True\)'
    with pytest.raises(ValueError, match=message):
        build(lib, ba2m_stages=(True, ) * 4, **three)


@pytest.mark.parametrize('lib', BOTH)
def test_bad_arguments(lib):
    with pytest.raises(ValueError, match=r"ba2m_stages .* got \(True, False, True\)"):
        build(lib, ba2m_stages=(True, False, True))
    with pytest.raises(ValueError, match=r'ba2m_stages .* got \(1, 0, 1, 1\)'):
        build(lib, ba2m_stages=(1, 0, 1, 1))
    with pytest.raises(ValueError, match=r"ba2m_stages .* got 'all'"):
        build(lib, ba2m_stages='all')
    with pytest.raises(ValueError, match=r"ba2m_position must be one of .* got 'after'"):
        build(lib, ba2m_position='after')
    with pytest.raises(ValueError, match=r"ba2m_cfg must not set \['in_channels'\]"):
        build(lib, ba2m_cfg=dict(in_channels=8))
    with pytest.raises(ValueError, match=r'ba2m_cfg must be a dict .* got 16'):
        build(lib, ba2m_cfg=16)
    # reduction 16 > 8 channels of stage 1: the error names the stage and the option.
    with pytest.raises(
            ValueError,
            match=r'stage layer1 \(8 channels\) from '
            r"ba2m_cfg=\{'reduction': 16\}.*reduction must be"):
        build(lib, ba2m_cfg=dict(reduction=16))
    with pytest.raises(ValueError, match=r'stage layer1\.0 \(8 channels\)'):
        build(lib, ba2m_cfg=dict(reduction=16), ba2m_position='inside')
    with pytest.raises(TypeError, match=r"ba2m_cfg=\{'reducton': 4\}.*reducton"):
        build(lib, ba2m_cfg=dict(reducton=4))
    with pytest.raises(KeyError, match=r"ba2m_cfg=\{'type': 'BA2N'\}.*BA2N"):
        build(lib, ba2m_cfg=dict(type='BA2N'))


def test_mmpretrain_layer_depth_of_between_ba2m():
    model = build('mmpretrain', 50)
    for stage, last in ((1, 2), (2, 3), (3, 5), (4, 2)):
        ba2m_param = f'backbone.ba2m{stage}.local_spatial.g0.weight'
        block_param = f'backbone.layer{stage}.{last}.conv1.weight'
        expected = model.get_layer_depth(block_param, 'backbone.')
        assert model.get_layer_depth(ba2m_param, 'backbone.') == expected


def test_registered_in_both_libraries():
    assert MMDET_MODELS.get('BA2MResNet') is mmdet_ba2m_resnet.BA2MResNet
    assert MMPRETRAIN_MODELS.get('BA2MResNet') is mmpretrain_ba2m_resnet.BA2MResNet
    assert MMPRETRAIN_MODELS.get('BA2MResNet_CIFAR') is mmpretrain_ba2m_resnet.BA2MResNet_CIFAR


def test_upstream_forward_runs_and_between_ba2m_hangs_on_the_stages():
    """One mechanism for every BA2M backbone (ba2m_stages_mixin.py): the ResNet and ResNeXt
    classes keep the library's own forward, and each between-stage BA2M is a forward hook
    on its stage."""
    from mmdet.models.backbones import ResNeXt as MMDetResNeXt
    from mmpretrain.models.backbones import ResNeXt as MMPretrainResNeXt

    from ba2m_mm.models.backbones import mmdet_ba2m_resnext, mmpretrain_ba2m_resnext
    from ba2m_mm.models.backbones.ba2m_hooks import BA2MHook
    pairs = list(LIBS.values())
    pairs.append((mmdet_ba2m_resnext.BA2MResNeXt, MMDetResNeXt))
    pairs.append((mmpretrain_ba2m_resnext.BA2MResNeXt, MMPretrainResNeXt))
    for ours, upstream in pairs:
        assert ours.forward is upstream.forward, ours
    for lib in LIBS:
        model = build(lib, ba2m_stages=(True, False, True, True))
        for i, name in enumerate(model.ba2m_names, 1):
            hooks = [
                h for h in getattr(model, f'layer{i}')._forward_hooks.values()
                if isinstance(h, BA2MHook)
            ]
            assert [h.ba2m for h in hooks] == ([getattr(model, name)] if name else [])


def test_mask_rcnn_config_backbone_builds():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mask_rcnn_r50_ba2m_2x_coco.py'))
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    backbone_cfg.init_cfg = None
    model = MMDET_MODELS.build(backbone_cfg)
    assert isinstance(model, mmdet_ba2m_resnet.BA2MResNet)
    assert model.depth == 50 and model.frozen_stages == 1 and model.norm_eval
    assert ba2m_names(model) == ['ba2m2', 'ba2m3', 'ba2m4']
    assert [model.get_submodule(n).in_channels for n in ba2m_names(model)] == [512, 1024, 2048]
    assert all(m.normalize == 'scaled_softmax' and m.reduction == 32 for m in model.modules()
               if isinstance(m, BA2M))


@pytest.mark.parametrize('module', [mmdet_ba2m_resnet, mmpretrain_ba2m_resnet])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
