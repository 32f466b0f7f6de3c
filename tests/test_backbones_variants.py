"""Tests of the BA2M variants of the paper's other backbones (Tables X, XII): BA2MResNeXt
(mmdet, mmpretrain), BA2MMobileNetV2, BA2MShuffleNetV2, BA2MDenseNet, BA2MEfficientNet
(mmpretrain), all built by BA2MStagesMixin.

Modelled on tests/test_backbones.py (the BA2MResNet tests): tiny widths, 32x32 inputs, one
intra-op thread. Every check runs for every variant where it applies.
"""
import copy
import doctest
import importlib
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from torch.nn.modules.batchnorm import _BatchNorm

from ba2m_mm.models.layers import BA2M

mmdet_backbones = pytest.importorskip('mmdet.models.backbones')
mmpretrain_backbones = pytest.importorskip('mmpretrain.models.backbones')
from mmdet.registry import MODELS as MMDET_MODELS  # noqa: E402
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS  # noqa: E402

import ba2m_mm.models.backbones as ba2m_backbones  # noqa: E402

BA2MStagesMixin = ba2m_backbones.BA2MStagesMixin
mmdet_ba2m_resnext = ba2m_backbones.mmdet_ba2m_resnext
mmpretrain_ba2m_resnext = ba2m_backbones.mmpretrain_ba2m_resnext
mmpretrain_ba2m_mobilenet_v2 = ba2m_backbones.mmpretrain_ba2m_mobilenet_v2
mmpretrain_ba2m_shufflenet_v2 = ba2m_backbones.mmpretrain_ba2m_shufflenet_v2
mmpretrain_ba2m_densenet = ba2m_backbones.mmpretrain_ba2m_densenet
mmpretrain_ba2m_efficientnet = ba2m_backbones.mmpretrain_ba2m_efficientnet

# name: (registry, BA2M class name, upstream class, tiny upstream kwargs, stage widths,
#        frozen_stages that freezes exactly stage 1, position 'inside' offered).
# zero_init_residual=False: a zero-initialised residual branch gives every sample the same
# SAR, hence 'inside' weights of exactly 1 until it has trained.
VARIANTS = {
    'mmdet-resnext': (MMDET_MODELS, 'BA2MResNeXt', mmdet_backbones.ResNeXt,
                      dict(
                          depth=50,
                          groups=4,
                          base_width=2,
                          base_channels=8,
                          stem_channels=8,
                          out_indices=(0, 1, 2, 3),
                          norm_eval=False,
                          zero_init_residual=False), (32, 64, 128, 256), 1, True),
    'mmpretrain-resnext': (MMPRETRAIN_MODELS, 'BA2MResNeXt', mmpretrain_backbones.ResNeXt,
                           dict(
                               depth=50,
                               groups=4,
                               width_per_group=2,
                               base_channels=8,
                               stem_channels=8,
                               out_indices=(0, 1, 2, 3),
                               zero_init_residual=False), (32, 64, 128, 256), 1, True),
    'mobilenet_v2': (MMPRETRAIN_MODELS, 'BA2MMobileNetV2', mmpretrain_backbones.MobileNetV2,
                     dict(widen_factor=0.25,
                          out_indices=tuple(range(8))), (8, 8, 8, 16, 24, 40, 80), 1, True),
    'shufflenet_v2': (MMPRETRAIN_MODELS, 'BA2MShuffleNetV2', mmpretrain_backbones.ShuffleNetV2,
                      dict(widen_factor=0.5, out_indices=(0, 1, 2, 3)), (48, 96, 192), 1, False),
    'densenet':
    (MMPRETRAIN_MODELS, 'BA2MDenseNet', mmpretrain_backbones.DenseNet,
     dict(arch=dict(growth_rate=4, depths=[2, 2, 2], init_channels=8),
          out_indices=(0, 1, 2)), (8, 8, 16), 1, False),
    # EfficientNet has no width argument: b0 is its smallest 'b' arch. frozen_stages counts
    # the stem (layers.0), so 2 freezes the stem and stage 1.
    'efficientnet': (MMPRETRAIN_MODELS, 'BA2MEfficientNet', mmpretrain_backbones.EfficientNet,
                     dict(arch='b0', out_indices=tuple(range(7))), (16, 24, 40, 112, 320), 2, True),
}
NAMES = list(VARIANTS)
INSIDE = [n for n in NAMES if VARIANTS[n][6]]
WITH_NORM_EVAL = [n for n in NAMES if n != 'densenet']  # upstream DenseNet has no norm_eval


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def kwargs_of(name, **extra):
    cfg = copy.deepcopy(VARIANTS[name][3])
    cfg.update(extra)
    return cfg


def num_stages(name):
    return len(VARIANTS[name][4])


def build(name, ba2m_cfg=None, ba2m_stages='all', **extra):
    """Our variant from its registry, BA2M after (or, for 'inside', in) every stage that
    can have one unless told otherwise."""
    registry, type_name = VARIANTS[name][:2]
    if ba2m_stages == 'all':
        ba2m_stages = (True, ) * num_stages(name)
        if extra.get('ba2m_position') == 'inside':
            ba2m_stages = stages_with_residual_blocks(name)
    model = registry.build(
        dict(
            type=type_name,
            ba2m_stages=ba2m_stages,
            ba2m_cfg=ba2m_cfg or dict(reduction=4, zero_init=False),  # BA2M acting
            **kwargs_of(name, **extra)))
    model.init_weights()
    return model


def stages_with_residual_blocks(name):
    """Stages with at least one block with an identity shortcut (where 'inside' applies)."""
    model = VARIANTS[name][0].build(
        dict(type=VARIANTS[name][1], ba2m_stages=(False, ) * num_stages(name), **kwargs_of(name)))
    return tuple(bool(model._ba2m_residual_blocks(i)) for i in range(num_stages(name)))


def upstream(name, **extra):
    return VARIANTS[name][2](**kwargs_of(name, **extra))


def ba2m_names(model):
    return [n for n, m in model.named_modules() if isinstance(m, BA2M)]


def randomize_(model, seed=0):
    """Random weights and BN statistics, so that loaded values differ from a fresh init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
    return model


def run(model, mode, x):
    model.train(mode)  # some upstream train() return None
    return model(x)


# ----------------------------------------------------------------------------------------
# Registry, shapes, placement
# ----------------------------------------------------------------------------------------


def test_every_name_is_registered_in_its_library():
    expected = {
        (MMDET_MODELS, 'BA2MResNeXt'): mmdet_ba2m_resnext.BA2MResNeXt,
        (MMPRETRAIN_MODELS, 'BA2MResNeXt'): mmpretrain_ba2m_resnext.BA2MResNeXt,
        (MMPRETRAIN_MODELS, 'BA2MMobileNetV2'): mmpretrain_ba2m_mobilenet_v2.BA2MMobileNetV2,
        (MMPRETRAIN_MODELS, 'BA2MShuffleNetV2'): mmpretrain_ba2m_shufflenet_v2.BA2MShuffleNetV2,
        (MMPRETRAIN_MODELS, 'BA2MDenseNet'): mmpretrain_ba2m_densenet.BA2MDenseNet,
        (MMPRETRAIN_MODELS, 'BA2MEfficientNet'): mmpretrain_ba2m_efficientnet.BA2MEfficientNet,
    }
    for (registry, type_name), cls in expected.items():
        assert registry.get(type_name) is cls
        upstream_name = type_name[len('BA2M'):]
        assert issubclass(cls, (BA2MStagesMixin, registry.get(upstream_name)))
        assert cls.__mro__[-3:] == registry.get(upstream_name).__mro__[-3:]
    # mmdet has none of the lightweight nets.
    assert MMDET_MODELS.get('BA2MMobileNetV2') is None


@pytest.mark.parametrize('name', NAMES)
def test_output_shapes_and_between_placement(name):
    """Upstream output shapes; ba2m{i} after every stage, weighting the stage output that
    is both returned and fed to the next stage (Eq. 15)."""
    model = build(name)
    n = num_stages(name)
    assert ba2m_names(model) == [f'ba2m{i}' for i in range(1, n + 1)]
    paths = model._ba2m_stage_paths()
    assert [getattr(model, f'ba2m{i + 1}').name for i in range(n)] == paths
    assert [getattr(model, f'ba2m{i + 1}').in_channels for i in range(n)] == list(VARIANTS[name][4])

    x = torch.rand(2, 3, 32, 32)
    seen = {}
    model.get_submodule(paths[1]).register_forward_hook(
        lambda m, i, o: seen.update(raw=o.clone()), prepend=True)  # before BA2M's hook
    outs = run(model, True, x)
    expected = run(upstream(name), False, x)
    assert [o.shape for o in outs] == [o.shape for o in expected]
    weights = model.ba2m2.last_weights
    assert weights.shape == (2, ) and not torch.allclose(weights, torch.ones(2))
    weighted = seen['raw'] * weights.view(-1, 1, 1, 1)  # w_2i F_2(x_i)
    # The stage output returned for out_indices is the weighted one (and the loop feeds
    # that same tensor to the next stage).
    assert sum(o.shape == weighted.shape and torch.allclose(o, weighted) for o in outs) == 1
    assert not any(o.shape == weighted.shape and torch.allclose(o, seen['raw']) for o in outs)
    for m in model.modules():
        if isinstance(m, BA2M):
            assert m.last_weights.shape == (2, ), m.name


@pytest.mark.parametrize('name', NAMES)
def test_ba2m_stages_select_stages(name):
    n = num_stages(name)
    stages = tuple(i % 2 == 1 for i in range(n))
    model = build(name, ba2m_stages=stages)
    assert ba2m_names(model) == [f'ba2m{i + 1}' for i in range(n) if stages[i]]
    assert model.ba2m_names == [f'ba2m{i + 1}' if stages[i] else None for i in range(n)]
    with pytest.raises(ValueError, match=rf'ba2m_stages must be .* {n} bools .*got \(True,\)'):
        build(name, ba2m_stages=(True, ))


@pytest.mark.parametrize('name', INSIDE)
def test_inside_on_residual_branches(name):
    """'inside' (Fig. 4c): <block>.ba2m in every block with an identity shortcut of the
    selected stages; the block returns x + w * branch(x)."""
    model = build(name, ba2m_position='inside')
    assert model.ba2m_names == [None] * num_stages(name)
    names = ba2m_names(model)
    residual = [path for i in range(num_stages(name)) for path, _ in model._ba2m_residual_blocks(i)]
    assert names == [f'{p}.ba2m' for p in residual] and names
    for path in residual:
        assert model.get_submodule(f'{path}.ba2m').name == path
    block = model.get_submodule(residual[-1])
    end = getattr(block, model._ba2m_residual_branch_end(block))
    seen = {}
    end.register_forward_hook(lambda m, i, o: seen.update(raw=o.clone()), prepend=True)
    block.register_forward_pre_hook(lambda m, i: seen.update(x=i[0].clone()))
    block.register_forward_hook(lambda m, i, o: seen.update(out=o.clone()))
    run(model, True, torch.rand(3, 3, 32, 32))
    weights = block.ba2m.last_weights.view(-1, 1, 1, 1)
    weighted = seen['raw'] * weights
    if 'resnext' in name:  # ResNet blocks apply ReLU after the addition
        torch.testing.assert_close(seen['out'], torch.relu(seen['x'] + weighted))
    else:  # inverted residuals: linear bottleneck, no activation after the addition
        torch.testing.assert_close(seen['out'], seen['x'] + weighted)
    assert not torch.allclose(weights, torch.ones_like(weights))


@pytest.mark.parametrize('name', [n for n in NAMES if n not in INSIDE])
def test_inside_not_offered_without_residual_blocks(name):
    with pytest.raises(ValueError, match=r"'inside' .*Fig\. 4c.* use ba2m_position='between'"):
        build(name, ba2m_position='inside')


def test_inside_needs_a_residual_block_in_each_selected_stage():
    """A stage whose blocks all lack an identity shortcut (MobileNetV2's single-block
    layer1 and layer7) cannot take 'inside' BA2M: ba2m_stages=None skips it, selecting it
    is an error naming it."""
    residual = stages_with_residual_blocks('mobilenet_v2')
    assert not residual[6] and all(residual[1:6])
    with pytest.raises(ValueError, match=r'stage layer7 has no block with an identity'):
        build('mobilenet_v2', ba2m_position='inside', ba2m_stages=(True, ) * 7)
    model = MMPRETRAIN_MODELS.build(dict(type='BA2MMobileNetV2', ba2m_position='inside'))
    assert model.ba2m_stages == (False, False, True, True, True, True, False)


# ----------------------------------------------------------------------------------------
# Parity with upstream, checkpoints
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize('name', NAMES)
def test_parity_with_upstream(name):
    """BA2M off: upstream exactly (state_dict keys in order, outputs in train and eval).
    BA2M on: upstream weights load with only BA2M keys missing; eval equals upstream."""
    reference = randomize_(upstream(name))
    n = num_stages(name)
    off = build(name, ba2m_stages=(False, ) * n)
    assert list(off.state_dict()) == list(reference.state_dict())
    off.load_state_dict(reference.state_dict())
    positions = ['between', 'inside'] if name in INSIDE else ['between']
    on = [build(name, ba2m_position=p) for p in positions]
    for model in on:
        missing, unexpected = model.load_state_dict(reference.state_dict(), strict=False)
        assert not unexpected
        assert missing and all('ba2m' in k.split('.') or k.startswith('ba2m') for k in missing)
    x = torch.rand(2, 3, 32, 32)
    for mode in (False, True):  # eval first: train forwards update BN statistics
        expected = run(reference, mode, x)
        for model in [off] + (on if not mode else []):
            for a, b in zip(run(model, mode, x), expected):
                torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('name', NAMES)
def test_checkpoint_round_trip(name, tmp_path):
    """An upstream checkpoint initialises our backbone (Pretrained init_cfg, classifier
    prefix), and our state_dict without BA2M's keys loads strictly into upstream."""
    reference = randomize_(upstream(name))
    path = str(tmp_path / 'upstream.pth')
    torch.save(
        dict(state_dict={
            f'backbone.{k}': v
            for k, v in reference.state_dict().items()
        }), path)
    model = build(name, init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    state = model.state_dict()
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    extra = set(state) - set(reference.state_dict())
    assert extra and all(k.startswith('ba2m') for k in extra)
    stripped = {k: v for k, v in state.items() if k not in extra}
    back = upstream(name)
    back.load_state_dict(stripped)  # strict
    x = torch.rand(2, 3, 32, 32)
    for a, b in zip(run(back, False, x), run(reference, False, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('name', NAMES)
def test_ba2m_checkpoint_loads_ba2m_weights(name, tmp_path):
    """A BA2M checkpoint (e.g. our classifier) loads every tensor, BA2M's included, and
    init_weights leaves the loaded BA2M weights alone."""
    trained = randomize_(build(name), seed=1)
    path = str(tmp_path / 'ba2m.pth')
    torch.save(dict(state_dict=trained.state_dict()), path)
    model = build(name, init_cfg=dict(type='Pretrained', checkpoint=path))
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.parametrize('name', ['shufflenet_v2', 'mobilenet_v2', 'mmpretrain-resnext'])
def test_init_weights_gives_ba2m_its_own_initialisation(name):
    """Upstream init (ShuffleNetV2's loop over every conv/BN, init_cfg Kaiming on every
    Conv2d) must not replace BA2M's own init_weights, which must also run below plain
    nn.Sequential stages ('inside' in mmpretrain's ResLayer)."""
    position = 'inside' if name != 'shufflenet_v2' else 'between'
    registry, type_name = VARIANTS[name][:2]
    stages = (True, ) * num_stages(name)
    if position == 'inside':
        stages = stages_with_residual_blocks(name)
    model = registry.build(
        dict(
            type=type_name,
            ba2m_stages=stages,
            ba2m_cfg=dict(reduction=4),
            ba2m_position=position,
            **kwargs_of(name)))
    from ba2m_mm.models.backbones.ba2m_stages_mixin import ba2m_generator
    ba2ms = model.ba2m_modules()
    # What BA2M.init_weights gives, module by module, from BA2M's own generator (seeded
    # from torch's seed; torch's global generator is left to the upstream layers).
    expected = [copy.deepcopy(m) for m in ba2ms]
    torch.manual_seed(3)
    with ba2m_generator(len(model.ba2m_names)):
        for m in expected:
            m.init_weights()
    torch.manual_seed(3)
    model.init_weights()
    for m, ref in zip(ba2ms, expected):
        assert m.is_init
        for (key, a), b in zip(m.state_dict().items(), ref.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f'{m.name}.{key}')


# ----------------------------------------------------------------------------------------
# frozen_stages, norm_eval, training
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize('name', NAMES)
def test_frozen_stages(name):
    """A frozen stage's BA2M is frozen with it: no gradients, eval mode, identity."""
    frozen_stages = VARIANTS[name][5]
    with pytest.warns(
            UserWarning, match=rf'stage\(s\) \[1\] is frozen with frozen_stages='
            rf'{frozen_stages}'):
        model = build(name, frozen_stages=frozen_stages)
    model.train()
    stage_modules = [model.get_submodule(p) for p in model._ba2m_stage_paths()]
    for stage in range(1, num_stages(name) + 1):
        frozen = stage == 1
        for ba2m in model.stage_ba2m(stage):
            assert all(m.training is not frozen for m in ba2m.modules())
            assert all(p.requires_grad is not frozen for p in ba2m.parameters())
        assert all(p.requires_grad is not frozen for p in stage_modules[stage - 1].parameters())
    model(torch.rand(2, 3, 32, 32))
    assert model.ba2m1.last_weights is None
    # BA2M off: frozen exactly as upstream, when upstream freezes (at construction or train).
    off = build(name, ba2m_stages=(False, ) * num_stages(name), frozen_stages=frozen_stages)
    reference = upstream(name, frozen_stages=frozen_stages)
    for mode in (None, True, False):
        if mode is not None:
            run(off, mode, torch.rand(2, 3, 32, 32))
            run(reference, mode, torch.rand(2, 3, 32, 32))
        assert [p.requires_grad for p in off.parameters()] == \
            [p.requires_grad for p in reference.parameters()]
        assert [m.training for m in off.modules()] == [m.training for m in reference.modules()]
    assert all(
        getattr(model, f'ba2m{i}').last_weights is not None for i in range(2,
                                                                           num_stages(name) + 1))


@pytest.mark.parametrize('name', WITH_NORM_EVAL)
def test_norm_eval_keeps_active_ba2m_bn_training(name):
    """norm_eval=True: upstream's BN in eval mode; every active BA2M's BN keeps
    updating its running statistics."""
    model = build(name, norm_eval=True)
    model.train()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            assert not m.training  # upstream's norm_eval; BA2M has no _BatchNorm
    before = [m.bn.num_batches_tracked.clone() for m in model.ba2m_modules()]
    assert before
    model(torch.rand(2, 3, 32, 32))
    for m, count in zip(model.ba2m_modules(), before):
        assert m.bn.num_batches_tracked == count + 1, m.name


@pytest.mark.parametrize('name', NAMES)
def test_training_step(name):
    """One SGD step: BA2M weights are not all 1, BA2M parameters get gradients and move;
    eval afterwards still equals upstream with the same (trained) weights."""
    model = build(name, ba2m_position='inside' if name in INSIDE else 'between').train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if 'ba2m' in n}
    x = torch.rand(4, 3, 32, 32)
    outs = model(x)
    sum(o.square().mean() for o in outs).backward()
    for m in model.ba2m_modules():
        assert not torch.allclose(m.last_weights, torch.ones(4)), m.name
    grads = {n: p.grad for n, p in model.named_parameters() if 'ba2m' in n}
    assert any(g is not None and g.abs().sum() > 0 for g in grads.values())
    optimizer.step()
    moved = [
        n for n, p in model.named_parameters() if 'ba2m' in n and not torch.equal(p, before[n])
    ]
    assert moved
    reference = upstream(name)
    reference.load_state_dict({
        k: v
        for k, v in model.state_dict().items() if k in reference.state_dict()
    })
    for a, b in zip(run(model, False, x), run(reference, False, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('name', ['mobilenet_v2', 'densenet'])
def test_hooks_follow_deepcopy(name):
    """Hook-applied BA2M (EMA copies): the copy runs its own BA2M, not the original's."""
    model = build(name, ba2m_position='inside' if name in INSIDE else 'between').train()
    twin = copy.deepcopy(model)
    twin(torch.rand(2, 3, 32, 32))
    assert all(m.last_weights is not None for m in twin.ba2m_modules())
    assert all(m.last_weights is None for m in model.ba2m_modules())
    stage = twin.get_submodule(twin._ba2m_stage_paths()[0])
    hooks = list(stage._forward_hooks.values())
    if name == 'densenet':
        assert len(hooks) == 1 and hooks[0].ba2m is twin.ba2m1


@pytest.mark.filterwarnings('ignore:torch.utils.checkpoint')
@pytest.mark.parametrize('position', ['between', 'inside'])
def test_with_cp(position):
    """with_cp=True. 'between': BA2M runs outside the checkpointed blocks, outputs and
    gradients are those without checkpointing. 'inside': BA2M runs (twice) inside them,
    first without autograd, where torch picks other kernels: the first BA2M's weights
    match up to float rounding, which the BatchNorm1d over 2 samples of deeper BA2M
    amplifies, so there only check that every BA2M ran and got gradients."""
    plain = build('mobilenet_v2', ba2m_position=position).train()
    cp_model = build('mobilenet_v2', ba2m_position=position, with_cp=True).train()
    cp_model.load_state_dict(plain.state_dict())
    assert all(block.with_cp for block in cp_model.layer3)
    x = torch.rand(2, 3, 32, 32)
    results = []
    for model in (plain, cp_model):
        outs = model(x.clone().requires_grad_())
        weights = [m.last_weights for m in model.ba2m_modules()]
        sum(o.square().mean() for o in outs).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((outs, weights, grads))
    (outs_a, w_a, grads_a), (outs_b, w_b, grads_b) = results
    assert grads_a.keys() == grads_b.keys() == {n for n, _ in plain.named_parameters()}
    if position == 'between':
        for a, b in zip(outs_a, outs_b):
            torch.testing.assert_close(a, b)
        for a, b in zip(w_a, w_b):
            torch.testing.assert_close(a, b)
        for key, grad in grads_a.items():
            torch.testing.assert_close(grad, grads_b[key], rtol=1e-4, atol=1e-6)
    else:
        torch.testing.assert_close(w_a[0], w_b[0], rtol=0, atol=1e-5)
        assert all(w is not None for w in w_b)
        assert any(grads_b[n].abs().sum() > 0 for n in grads_b if '.ba2m.' in n)


# ----------------------------------------------------------------------------------------
# Thin stages, errors
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize('name, expected', [
    ('mobilenet_v2', (False, False, True, True, True, True, True)),
    ('efficientnet', (False, False, True, True, True)),
    ('shufflenet_v2', (True, True, True)),
])
def test_default_stages_skip_thin_stages(name, expected, caplog):
    """ba2m_stages=None at upstream widths: every stage at least 32 channels wide (the
    paper's R), the skipped stages are logged."""
    extra = dict(widen_factor=1.0) if name == 'mobilenet_v2' else {}
    registry, type_name = VARIANTS[name][:2]
    logger = MMLogger.get_current_instance()  # calls its own handlers only
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO):
            model = registry.build(dict(type=type_name, **kwargs_of(name, **extra)))
    finally:
        logger.removeHandler(caplog.handler)
    assert model.ba2m_stages == expected
    assert all(m.reduction == 32 for m in model.ba2m_modules())
    if not all(expected):
        assert f'{type_name}: ba2m_stages=None -> {expected}: no BA2M at' in caplog.text
        assert 'layer1 (16 channels < R = 32)' in caplog.text or \
            'layers.1 (16 channels < R = 32)' in caplog.text


def test_explicit_reduction_too_large_names_the_stage():
    """Thin-stage policy never overrides an explicit choice: selecting a thin stage, or a
    reduction wider than a default stage, is an error naming the stage."""
    mobilenet = dict(type='BA2MMobileNetV2')
    with pytest.raises(ValueError, match=r'stage layer1 \(16 channels\).*BA2M \(layer1\)'):
        MMPRETRAIN_MODELS.build(dict(mobilenet, ba2m_stages=(True, ) * 7))
    with pytest.raises(
            ValueError,
            match=r"stage layer3 \(32 channels\) from ba2m_cfg=\{'reduction': 64\}: .*reduction"):
        MMPRETRAIN_MODELS.build(dict(mobilenet, ba2m_cfg=dict(reduction=64)))


@pytest.mark.parametrize('name', NAMES)
def test_reduction_larger_than_a_stage_is_an_error_naming_it(name):
    widths = VARIANTS[name][4]
    thin = min(range(len(widths)), key=lambda i: widths[i])
    model = build(name)
    path = model._ba2m_stage_paths()[thin]
    with pytest.raises(ValueError, match=rf'stage {path} \({widths[thin]} channels\)'):
        build(name, ba2m_cfg=dict(reduction=widths[thin] * 2))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"ba2m_position must be one of .* got 'after'"):
        build('densenet', ba2m_position='after')
    with pytest.raises(ValueError, match=r"ba2m_cfg must not set \['name'\]"):
        build('densenet', ba2m_cfg=dict(name='x'))
    with pytest.raises(TypeError, match=r"ba2m_cfg=\{'reducton': 4\}.*reducton"):
        build('shufflenet_v2', ba2m_cfg=dict(reducton=4))


def test_mmpretrain_resnext_layer_depth_of_between_ba2m():
    model = build('mmpretrain-resnext')
    for stage, last in ((1, 2), (2, 3), (3, 5), (4, 2)):
        ba2m_param = f'backbone.ba2m{stage}.local_spatial.g0.weight'
        block_param = f'backbone.layer{stage}.{last}.conv1.weight'
        expected = model.get_layer_depth(block_param, 'backbone.')
        assert model.get_layer_depth(ba2m_param, 'backbone.') == expected


@pytest.mark.parametrize('module', [
    'mmdet_ba2m_resnext', 'mmpretrain_ba2m_resnext', 'mmpretrain_ba2m_mobilenet_v2',
    'mmpretrain_ba2m_shufflenet_v2', 'mmpretrain_ba2m_densenet', 'mmpretrain_ba2m_efficientnet'
])
def test_docstring_examples(module):
    module = importlib.import_module(f'ba2m_mm.models.backbones.{module}')
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
