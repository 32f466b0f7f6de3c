"""Tests of the BA2M module (paper Eq. 5-13): what it computes."""
import copy
import itertools
import math
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F

from ba2m_mm.models.layers import BA2M, GlobalSpatialAttention, SampleAttention, batch_weights
from ba2m_mm.models.layers import global_spatial as global_spatial_module
from ba2m_mm.models.layers import normalised_responses


def make_ba2m(channels=32, reduction=4, **kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('zero_init', False)  # the attention at full strength
    module = BA2M(channels, reduction=reduction, **kwargs)
    module.init_weights()
    return module.train()


def reference_sar(module, x):
    """Eq. 9 by hand from the branch responses, with the statistics the next
    forward of ``module`` uses (computed on a copy: branch_responses updates them)."""
    responses = copy.deepcopy(module).branch_responses(x)  # (B, N, C)
    return responses.max(dim=0).values.mean(dim=1)  # (N,)


def test_docstring_example():
    import doctest

    import ba2m_mm.models.layers.ba2m as ba2m_module
    result = doctest.testmod(ba2m_module)
    assert result.attempted >= 5 and result.failed == 0


def test_shape_and_per_sample_scalar():
    module = make_ba2m()
    x = torch.rand(4, 32, 6, 7) + 0.1
    y = module(x)
    assert y.shape == x.shape
    ratio = y / x  # every sample is its input times one positive scalar
    per_sample = ratio.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert (per_sample[:, 0] > 0).all()
    torch.testing.assert_close(per_sample[:, 0].mean(), torch.tensor(1.0))  # default: scaled
    torch.testing.assert_close(per_sample[:, 0], module.last_weights)


@pytest.mark.parametrize('normalize, expected_sum', [('softmax', 1.0), ('scaled_softmax', 5.0)])
def test_normalisation(normalize, expected_sum):
    module = make_ba2m(normalize=normalize)
    module(torch.randn(5, 32, 4, 4))
    weights = module.last_weights
    assert weights.shape == (5, )
    assert (weights > 0).all()
    torch.testing.assert_close(weights.sum(), torch.tensor(expected_sum))


def test_weights_are_softmax_of_eq9_sar():
    module = make_ba2m(gsa_mode='exact', normalize='softmax')
    for _ in range(3):  # statistics away from the prior
        module(torch.randn(3, 32, 5, 5))
    x = torch.randn(3, 32, 5, 5)
    sar = reference_sar(module, x)
    module(x)
    torch.testing.assert_close(module.last_weights, torch.softmax(sar, 0))


def test_fused_sample_attention_equals_autograd_reference():
    """SampleAttention (BN with given statistics + Eq. 9 as one node) against
    the same computation by autograd: value and gradient of every input."""
    torch.manual_seed(0)
    num_branches, n, channels, hidden = 3, 4, 16, 4
    kw = dict(dtype=torch.float64)
    gamma = torch.randn(num_branches, channels, **kw)
    beta = torch.randn(num_branches, channels, **kw)
    pooled = torch.randn(num_branches, n, hidden, **kw)
    weight = torch.randn(num_branches, channels, hidden, **kw)
    inputs = [t.requires_grad_() for t in (gamma, beta, pooled, weight)]
    mean, rstd = torch.randn(num_branches, channels, **kw), torch.rand(num_branches, channels, **kw)
    channel_mean = torch.full((channels, ), 1 / channels, **kw)

    def fused(gamma, beta, pooled, weight):
        return SampleAttention.apply(gamma, beta, mean, rstd + 0.5, pooled, weight, channel_mean)[0]

    def reference(gamma, beta, pooled, weight):
        responses = normalised_responses(pooled, weight, gamma, beta, mean, rstd + 0.5)[0]
        return responses.max(dim=0).values.mean(dim=1)

    torch.testing.assert_close(fused(*inputs), reference(*inputs))
    assert torch.autograd.gradcheck(fused, inputs)
    grad = torch.randn(n, **kw)
    torch.testing.assert_close(
        torch.autograd.grad(fused(*inputs), inputs, grad),
        torch.autograd.grad(reference(*inputs), inputs, grad))


def test_registry_build_from_every_scope():
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.registry import MODELS as ROOT_MODELS
    from mmpretrain.registry import MODELS as CLS_MODELS

    import ba2m_mm  # noqa: F401
    for registry in (ROOT_MODELS, DET_MODELS, CLS_MODELS):
        module = registry.build(dict(type='BA2M', in_channels=16, reduction=4))
        assert isinstance(module, BA2M)


def test_batch_coupling_in_training_only():
    module = make_ba2m(gsa_mode='exact')
    x = torch.randn(4, 32, 5, 5)
    x2 = x.clone()
    x2[3] = torch.randn(32, 5, 5)  # change sample j = 3
    y, y2 = copy.deepcopy(module)(x), module(x2)  # same statistics for both
    assert not torch.allclose(y[0], y2[0])  # sample i = 0 sees it in training
    module.eval()
    assert torch.equal(module(x)[0], module(x2)[0])


def test_permutation_equivariance():
    module = make_ba2m(gsa_mode='exact')
    x = torch.randn(5, 32, 4, 4)
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(copy.deepcopy(module)(x)[perm], module(x[perm]))


def test_eval_is_identity_at_zero_cost():
    module = make_ba2m().eval()
    x = torch.randn(2, 32, 4, 4)
    assert module(x) is x
    running_var = module.bn.running_var.clone()
    module(x)
    assert torch.equal(module.bn.running_var, running_var)  # no statistics in eval


def test_every_parameter_gets_gradient():
    module = make_ba2m(channels=64, reduction=8, gsa_mode='exact')
    for _ in range(3):
        module(torch.randn(6, 64, 6, 6))
    x = torch.randn(6, 64, 6, 6, requires_grad=True)
    target = torch.randn(6, 64, 6, 6)
    (module(x) * target).sum().backward()
    for name, param in module.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0
    # the max-combination is not dominated by one branch
    assert (module.last_branch_share > 0.1).all(), module.last_branch_share


@pytest.mark.parametrize(
    'branches',
    [b for r in (1, 2, 3) for b in itertools.combinations(('channel', 'local', 'global'), r)])
def test_branch_subsets(branches):
    module = make_ba2m(branches=branches)
    assert module.branches == branches
    y = module(torch.randn(3, 32, 4, 4))
    assert y.shape == (3, 32, 4, 4)
    assert module.bn.running_var.shape == (len(branches), 32)
    assert module.last_branch_share.shape == (len(branches), )
    torch.testing.assert_close(module.last_branch_share.sum(), torch.tensor(1.0))


def expected_params(C, R, groups=None):
    """The formula documented in BA2M's docstring (BN: 2C per branch)."""
    d = C // R
    G = groups or math.gcd(math.gcd(R, d), C)
    return dict(
        channel=2 * C * d + d,
        local=2 * C * d + 9 * d * d + 2 * d,
        global_=4 * C * d // G + d,
        bn=2 * C * 3)


@pytest.mark.parametrize('C', [256, 512, 1024, 2048])
def test_parameter_count_formula(C):
    module = BA2M(C)
    expected = expected_params(C, 32)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(module.channel_attention) == expected['channel']
    assert count(module.local_spatial) == expected['local']
    assert count(module.global_spatial) == expected['global_']
    assert count(module.bn) == expected['bn']
    assert count(module) == sum(expected.values())


def test_resnet50_stage_parameter_total():
    """+0.79 M for ResNet-50's four stage widths (paper Table V: +0.65 M)."""
    total = sum(sum(p.numel() for p in BA2M(C).parameters()) for C in (256, 512, 1024, 2048))
    assert total == sum(sum(expected_params(C, 32).values()) for C in (256, 512, 1024, 2048))
    assert total == 792352


def global_inputs(gsa, x):
    """q = f(x) / sqrt(d) + query bias, k = g(x), v = h(x), with grouped convolutions."""
    groups = gsa.qkv_mask.size(1)
    weights = gsa.qkv_weight.view(3, -1, gsa.qkv_weight.size(1), 1).unbind(0)
    f, g, h = (F.conv1d(x.flatten(2), w, groups=groups) for w in weights)  # (N, d, HW)
    return f / math.sqrt(gsa.hidden_channels) + gsa.query_bias[:, None], g, h


def naive_pooled_attention(gsa, x):
    """softmax(f g^T / sqrt(d)) h with the explicit HW x HW matrix, then GAP, (N, d)."""
    q, k, v = (t.transpose(1, 2) for t in global_inputs(gsa, x))  # (N, HW, d)
    attention = torch.softmax(q @ k.transpose(1, 2), dim=-1)  # (N, HW, HW)
    return (attention @ v).mean(1)


def test_exact_global_spatial_matches_naive_reference():
    torch.manual_seed(0)
    gsa = GlobalSpatialAttention(32, 8, groups=4, mode='exact')
    with torch.no_grad():
        gsa.query_bias.normal_()
    x = torch.randn(3, 32, 9, 11)
    torch.testing.assert_close(
        gsa.pooled_attention(x), naive_pooled_attention(gsa, x), rtol=1e-5, atol=1e-6)


def test_explicit_and_fused_attention_kernels_agree(monkeypatch):
    torch.manual_seed(0)
    gsa = GlobalSpatialAttention(32, 8, groups=4, mode='exact')
    x = torch.randn(2, 32, 9, 11)
    explicit = gsa.pooled_attention(x)  # 99 x 99 <= EXPLICIT_ATTENTION_MAX_ELEMENTS
    monkeypatch.setattr(global_spatial_module, 'EXPLICIT_ATTENTION_MAX_ELEMENTS', 0)
    torch.testing.assert_close(gsa.pooled_attention(x), explicit, rtol=1e-5, atol=1e-6)


def test_auto_policy_by_device_and_dtype():
    gsa = GlobalSpatialAttention(8, 2, mode='auto', num_samples=16, exact_max_positions=100)
    assert gsa.use_exact(100) and not gsa.use_exact(101)
    assert GlobalSpatialAttention(8, 2, mode='sampled', num_samples=16).use_exact(16)
    assert not GlobalSpatialAttention(8, 2, mode='sampled', num_samples=16).use_exact(17)
    assert gsa.use_exact(100, batch_size=256)  # explicit limit: whatever the batch
    auto = GlobalSpatialAttention(8, 2)  # default limits: N x (HW)^2 elements by device, dtype
    for dtype, device, batch, limit in [(torch.float32, 'cpu', 4, 1024),
                                        (torch.bfloat16, 'cpu', 1, 2048),
                                        (torch.float32, 'cuda', 32, 1024),
                                        (torch.bfloat16, 'cuda', 2, 16800),
                                        (torch.float16, 'cuda', 32, 4200)]:
        assert auto.use_exact(limit, batch, dtype, device), (dtype, device)
        assert not auto.use_exact(limit + 1, batch, dtype, device), (dtype, device)
    # CIFAR size at the paper's batch on CPU: budget / (N HW) sampled queries, then exact
    assert [auto.num_queries(hw, 128) for hw in (1024, 256, 64, 16)] == [32, 128, 64, 16]
    assert auto.num_queries(100_000, 2, torch.float32, 'cpu') == 20  # 2^22 / (2 * 1e5)
    assert auto.num_queries(10**7, 64) == 16  # never below AUTO_MIN_SAMPLES
    assert auto.num_queries(66800, 2, torch.float16, 'cuda') == 256  # at most num_samples


def test_sampled_estimator_is_unbiased():
    torch.manual_seed(0)
    num_samples, draws = 16, 200
    gsa = GlobalSpatialAttention(16, 4, mode='sampled', num_samples=num_samples)
    x = torch.randn(2, 16, 12, 12)
    with torch.no_grad():
        exact = naive_pooled_attention(gsa, x)
        estimates = torch.stack([gsa.pooled_attention(x) for _ in range(draws)])
        # per-query outputs give the population variance; i.i.d. uniform draws
        q, k, v = (t.transpose(1, 2) for t in global_inputs(gsa, x))
        rows = torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v  # (N, L, d)
    pop_var = rows.var(dim=1, unbiased=False)
    std_of_mean = (pop_var / num_samples / draws).sqrt()
    # single draws are noisy, their mean converges to the exact value
    assert (estimates.std(0) > 0).all()
    assert ((estimates.mean(0) - exact).abs() <= 5 * std_of_mean + 1e-6).all()


def test_default_is_affordable_at_detection_resolution():
    """Forward+backward at batch 2 x 256 x 200 x 334 (stage 1 of 800x1333).

    An explicit HW x HW matrix would need 17.8 GB per image; the default policy samples queries.
    Measured in a fresh process so the peak RSS belongs to this computation alone.
    """
    code = '''
import resource, torch
from ba2m_mm.models.layers import BA2M
torch.manual_seed(0)
m = BA2M(256).train()
x = torch.randn(2, 256, 200, 334, requires_grad=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m(x).sum().backward()
assert x.grad is not None and torch.isfinite(x.grad).all()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
'''
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    growth_mb = float(out.stdout.strip().splitlines()[-1])
    # input + grad are 137 MB each; allow activations of the conv branch, nothing quadratic
    assert growth_mb < 2000, growth_mb


def test_batch_of_one_warns_once_and_is_identity():
    module = make_ba2m(name='layer3')
    x = torch.randn(1, 32, 4, 4)
    with pytest.warns(UserWarning, match=r'BA2M \(layer3\): training batch of 1'):
        assert torch.equal(module(x), x)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        module(x)  # only once


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=0), 'in_channels must be an int >= 1, got 0'),
    (dict(in_channels=16,
          reduction=0), r'reduction must be an int in \[1, in_channels=16\], got 0'),
    (dict(in_channels=16,
          reduction=32), r'reduction must be an int in \[1, in_channels=16\], got 32'),
    (dict(in_channels=16, reduction=4, branches=()), 'branches must be a non-empty'),
    (dict(in_channels=16, reduction=4, branches=('chanel', 'local', 'local')),
     "unknown 'chanel' \\(did you mean 'channel'\\?\\); 'local' given more than once"),
    (dict(in_channels=16, reduction=4,
          branches=('channel', 'spatial')), "got \\('channel', 'spatial'\\)"),
    (dict(in_channels=16, reduction=4,
          branches='channel'), 'branches must be a non-empty sequence'),
    (dict(in_channels=16, reduction=4,
          normalize='sigmoid'), "normalize must be one of .* got 'sigmoid'"),
    (dict(in_channels=16, reduction=4, gsa_mode='fast'), "gsa_mode must be one of .* got 'fast'"),
    (dict(in_channels=16, reduction=4,
          momentum=0), r'momentum must be a number in \(0, 1\], got 0'),
    (dict(in_channels=16, reduction=4,
          finite_check_interval=0), 'finite_check_interval must be an int >= 1, got 0'),
    (dict(in_channels=16, reduction=4,
          gsa_exact_max_positions=0), 'gsa_exact_max_positions must be None or an int >= 1'),
    (dict(in_channels=16, reduction=4, gsa_num_samples=0), 'gsa_num_samples must be an int'),
])
def test_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BA2M(**kwargs)


def test_bad_inputs():
    module = make_ba2m(channels=16, name='layer2')
    with pytest.raises(
            ValueError, match=r'BA2M \(layer2\) expects a 4-D .* got shape \(2, 16, 4\)'):
        module(torch.randn(2, 16, 4))
    with pytest.raises(ValueError, match='input has 8 channels but in_channels=16'):
        module(torch.randn(2, 8, 4, 4))


def test_non_finite_input_is_reported_at_the_next_check():
    """No host sync per step: the check runs every ``finite_check_interval``
    training forwards and names the BA2M."""
    x = torch.randn(3, 16, 4, 4)
    x[1, 0, 0, 0] = float('nan')
    module = make_ba2m(channels=16, name='layer2', finite_check_interval=1)
    with pytest.raises(ValueError, match=r'BA2M \(layer2\): non-finite sample attention'):
        module(x)
    module = make_ba2m(channels=16, name='layer2', finite_check_interval=3)
    module(x)
    module(x)  # forwards 1 and 2 are not checked
    with pytest.raises(ValueError, match=r'BA2M \(layer2\): non-finite .* Lower the learning'):
        module(x)
    with pytest.raises(ValueError, match='non-finite'):
        module.check_finite()  # hooks can call it at any time


def test_sync_falls_back_to_local_batch():
    x = torch.randn(4)
    torch.testing.assert_close(batch_weights(x, sync=True), torch.softmax(x, 0))
    torch.testing.assert_close(batch_weights(x, 'scaled_softmax', sync=True), 4 * F.softmax(x, 0))
