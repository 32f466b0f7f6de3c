"""Tests of the BA2M module (paper Eq. 5-13)."""
import itertools
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from ba2m_mm.models.layers import BA2M, GlobalSpatialAttention, batch_weights


def make_ba2m(channels=32, reduction=4, **kwargs):
    torch.manual_seed(0)
    module = BA2M(channels, reduction=reduction, **kwargs)
    module.init_weights()
    return module.train()


def freeze_bn_stats(module):
    """Use running statistics in the branches while BA2M itself stays in training mode."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()
    return module


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


def test_weights_are_softmax_of_sar():
    module = freeze_bn_stats(make_ba2m(gsa_mode='exact', normalize='softmax'))
    x = torch.randn(3, 32, 5, 5)
    sar = module.sample_attention(x)
    module(x)
    torch.testing.assert_close(module.last_weights, torch.softmax(sar, 0))
    # Eq. 9 by hand: mean over channels of the branch-wise max.
    responses = torch.stack(
        [module.channel_attention(x),
         module.local_spatial(x),
         module.global_spatial(x)])
    torch.testing.assert_close(sar, responses.max(0).values.mean(1))


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
    y, y2 = module(x), module(x2)
    assert not torch.allclose(y[0], y2[0])  # sample i = 0 sees it in training
    module.eval()
    assert torch.equal(module(x)[0], module(x2)[0])


def test_permutation_equivariance():
    module = make_ba2m(gsa_mode='exact')
    x = torch.randn(5, 32, 4, 4)
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(module(x)[perm], module(x[perm]))


def test_eval_is_identity_at_zero_cost():
    module = make_ba2m().eval()
    x = torch.randn(2, 32, 4, 4)
    assert module(x) is x
    assert module(x[:1]) is x[:1] or torch.equal(module(x[:1]), x[:1])


def test_every_parameter_gets_gradient():
    module = make_ba2m(channels=64, reduction=8, gsa_mode='exact')
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
    assert module.last_branch_share.shape == (len(branches), )
    torch.testing.assert_close(module.last_branch_share.sum(), torch.tensor(1.0))


def expected_params(C, R, groups=None):
    """The formula documented in BA2M's docstring."""
    d = C // R
    G = groups or math.gcd(math.gcd(R, d), C)
    channel = 2 * C * d + d + 2 * C
    local = 2 * C * d + 9 * d * d + 2 * d + 2 * C
    global_ = 4 * C * d // G + d + 2 * C
    return channel, local, global_


@pytest.mark.parametrize('C', [256, 512, 1024, 2048])
def test_parameter_count_formula(C):
    module = BA2M(C)
    channel, local, global_ = expected_params(C, 32)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(module.channel_attention) == channel
    assert count(module.local_spatial) == local
    assert count(module.global_spatial) == global_
    assert count(module) == channel + local + global_


def test_resnet50_stage_parameter_total():
    """+0.79 M for ResNet-50's four stage widths (paper Table V: +0.65 M)."""
    total = sum(sum(p.numel() for p in BA2M(C).parameters()) for C in (256, 512, 1024, 2048))
    assert total == sum(sum(expected_params(C, 32)) for C in (256, 512, 1024, 2048))
    assert total == 792352


def naive_pooled_attention(gsa, x):
    """softmax(f g^T / sqrt(d)) h with the explicit HW x HW matrix, then GAP."""
    flat = x.flatten(2)
    q, k, v = (conv(flat).transpose(1, 2) for conv in (gsa.f, gsa.g, gsa.h))  # (N, HW, d)
    attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.size(-1)), dim=-1)  # (N, HW, HW)
    return (attn @ v).mean(1)  # (N, d)


def test_exact_global_spatial_matches_naive_reference():
    torch.manual_seed(0)
    gsa = GlobalSpatialAttention(32, 8, groups=4, mode='exact')
    x = torch.randn(3, 32, 9, 11)
    torch.testing.assert_close(
        gsa.pooled_attention(x), naive_pooled_attention(gsa, x), rtol=1e-5, atol=1e-6)


def test_auto_policy():
    gsa = GlobalSpatialAttention(8, 2, mode='auto', num_samples=16, exact_max_positions=100)
    assert gsa.use_exact(100) and not gsa.use_exact(101)
    assert GlobalSpatialAttention(8, 2, mode='sampled', num_samples=16).use_exact(16)
    assert not GlobalSpatialAttention(8, 2, mode='sampled', num_samples=16).use_exact(17)


def test_sampled_estimator_is_unbiased():
    torch.manual_seed(0)
    num_samples, draws = 16, 200
    gsa = GlobalSpatialAttention(16, 4, mode='sampled', num_samples=num_samples)
    x = torch.randn(2, 16, 12, 12)
    L = 144
    with torch.no_grad():
        exact = naive_pooled_attention(gsa, x)
        estimates = torch.stack([gsa.pooled_attention(x) for _ in range(draws)])
        # Per-query outputs give the population variance; sampling without replacement.
        flat = x.flatten(2)
        q, k, v = (conv(flat).transpose(1, 2) for conv in (gsa.f, gsa.g, gsa.h))
        rows = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1) @ v  # (N, L, d)
    pop_var = rows.var(dim=1, unbiased=False)
    var_one_draw = pop_var / num_samples * (L - num_samples) / (L - 1)
    std_of_mean = (var_one_draw / draws).sqrt()
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


def test_bf16_autocast_keeps_sar_fp32():
    module = make_ba2m(normalize='softmax')
    x = torch.randn(4, 32, 6, 6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        sar = module.sample_attention(x)
        y = module(x)
    assert sar.dtype == torch.float32
    assert module.last_weights.dtype == torch.float32
    assert torch.isfinite(module.last_weights).all()
    torch.testing.assert_close(module.last_weights.sum(), torch.tensor(1.0))
    assert torch.isfinite(y).all()


def test_batch_of_one_warns_once_and_is_identity():
    module = make_ba2m(name='layer3')
    x = torch.randn(1, 32, 4, 4)
    with pytest.warns(UserWarning, match=r'BA2M \(layer3\): training batch of 1'):
        assert torch.equal(module(x), x)
    import warnings
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
    (dict(in_channels=16, reduction=4,
          branches=('channel', 'spatial')), "got \\('channel', 'spatial'\\)"),
    (dict(in_channels=16, reduction=4,
          branches='channel'), 'branches must be a non-empty sequence'),
    (dict(in_channels=16, reduction=4,
          normalize='sigmoid'), "normalize must be one of .* got 'sigmoid'"),
    (dict(in_channels=16, reduction=4, gsa_mode='fast'), "gsa_mode must be one of .* got 'fast'"),
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
    x = torch.randn(3, 16, 4, 4)
    x[1, 0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match=r'BA2M \(layer2\): non-finite sample attention'):
        module(x)


# ----------------------------------------------------------------------------------------
# Global-batch weights across processes (sync=True), 2 gloo processes on CPU.

SYNC_CASES = [((2, 2), 'softmax'), ((3, 1), 'scaled_softmax')]  # (3, 1): uneven, local batch 1


def _sync_worker(rank, world_size, init_file, out_dir):
    import torch.distributed as dist
    dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    for case, (sizes, normalize) in enumerate(SYNC_CASES):
        module = freeze_bn_stats(make_ba2m(gsa_mode='exact', sync=True, normalize=normalize))
        x_all, target_all = _sync_inputs(sum(sizes))
        start = sum(sizes[:rank])
        x = x_all[start:start + sizes[rank]].clone().requires_grad_()
        out = module(x)
        (out * target_all[start:start + sizes[rank]]).sum().backward()
        grads = {n: p.grad for n, p in module.named_parameters()}
        torch.save(
            dict(out=out.detach(), grad=x.grad, param_grads=grads),
            os.path.join(out_dir, f'case{case}_rank{rank}.pth'))
    dist.destroy_process_group()


def _sync_inputs(n):
    gen = torch.Generator().manual_seed(1)
    return torch.randn(n, 32, 5, 5, generator=gen), torch.randn(n, 32, 5, 5, generator=gen)


@pytest.fixture(scope='module')
def sync_results(tmp_path_factory):
    import torch.multiprocessing as mp
    out_dir = tmp_path_factory.mktemp('sync')
    mp.spawn(_sync_worker, args=(2, str(out_dir / 'init'), str(out_dir)), nprocs=2, join=True)
    return out_dir


@pytest.mark.parametrize('case', range(len(SYNC_CASES)))
def test_sync_equals_single_process_on_concatenated_batch(sync_results, case):
    sizes, normalize = SYNC_CASES[case]
    results = [torch.load(sync_results / f'case{case}_rank{r}.pth') for r in range(2)]

    module = freeze_bn_stats(make_ba2m(gsa_mode='exact', sync=True, normalize=normalize))
    x_all, target_all = _sync_inputs(sum(sizes))
    x_all.requires_grad_()
    out = module(x_all)
    (out * target_all).sum().backward()

    torch.testing.assert_close(torch.cat([r['out'] for r in results]), out.detach())
    torch.testing.assert_close(torch.cat([r['grad'] for r in results]), x_all.grad)
    # parameter gradients summed over ranks (what DDP averages) equal the single process's
    for name, param in module.named_parameters():
        torch.testing.assert_close(
            sum(r['param_grads'][name] for r in results), param.grad, rtol=1e-4, atol=1e-6)


def test_sync_falls_back_to_local_batch():
    x = torch.randn(4)
    torch.testing.assert_close(batch_weights(x, sync=True), torch.softmax(x, 0))
    torch.testing.assert_close(batch_weights(x, 'scaled_softmax', sync=True), 4 * F.softmax(x, 0))
