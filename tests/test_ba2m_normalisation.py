"""The BN that ends each BA2M branch (paper Eq. 6-7) at small batches and across processes."""
import copy
import os

import pytest
import torch
import torch.nn.functional as F

from ba2m_mm.models.layers import BA2M


def make_ba2m(channels=32, reduction=4, **kwargs):
    kwargs.setdefault('zero_init', False)  # the attention at full strength
    torch.manual_seed(0)
    module = BA2M(channels, reduction=reduction, **kwargs)
    module.init_weights()
    return module.train()


def two_different_maps(channels=512, seed=0):
    """Two post-ReLU feature maps with different channel profiles."""
    gen = torch.Generator().manual_seed(seed)
    return torch.relu(
        torch.randn(2, channels, 60, 80, generator=gen) +
        torch.rand(2, channels, 1, 1, generator=gen) * 2)


def saturation(responses):
    """Per branch: share of values within 1e-3 of +-1, and whether the two
    samples are mirror images."""
    near_one = ((responses.abs() - 1).abs() < 1e-3).float().mean(dim=(1, 2))
    mirror = [torch.allclose(r[0], -r[1], atol=1e-4) for r in responses]
    return near_one, mirror


@pytest.mark.parametrize('steps', [0, 20])
def test_two_samples_are_not_standardised_against_each_other(steps):
    """At 2 images per batch, BN over the batch made every branch response +-1
    and the two samples mirror images (69-88% of the values within 1e-3 of +-1
    before this module used running statistics). At initialisation (gamma=1,
    beta=0) and after training steps, at most 5% may be, and no mirror images.
    At step 0 the default statistics are those of the first batch itself (its
    two samples are mirror images then; gamma = 0 at that point by default), so
    step 0 is checked with the prior ('running')."""
    module = make_ba2m(
        512, reduction=32, statistics='running' if steps == 0 else 'running_with_batch')
    for step in range(steps):
        module(two_different_maps(seed=100 + step))  # updates the running statistics
    with torch.no_grad():
        responses = module.branch_responses(two_different_maps())  # (3, 2, 512)
    near_one, mirror = saturation(responses)
    assert (near_one <= 0.05).all(), near_one
    assert not any(mirror), mirror
    # and the weights carry information: not 1 +- 0.01 as with the batch statistics
    module(two_different_maps(seed=7))
    assert (module.last_weights - 1).abs().max() > 0.01, module.last_weights


def test_response_of_a_sample_does_not_depend_on_the_others():
    """Running statistics of the batches before: a sample's branch responses are
    the same whatever shares its batch (the weights still compare the samples,
    Eq. 11). The default statistics include the batch (weight 1/k, then momentum)."""
    module = make_ba2m(gsa_mode='exact', statistics='running')
    for _ in range(3):
        module(torch.randn(2, 32, 5, 5))
    x = torch.randn(2, 32, 5, 5)
    x2 = torch.stack([x[0], torch.randn(32, 5, 5)])
    r1 = copy.deepcopy(module).branch_responses(x)
    r2 = copy.deepcopy(module).branch_responses(x2)
    torch.testing.assert_close(r1[:, 0], r2[:, 0])


def test_local_branch_bn_over_nhw_equals_explicit_computation():
    """A_LS = GAP(BN(g2(y))) with BN over N x H x W (Eq. 7): the statistics the
    module derives from the mean and d x d second moment of y equal those of
    the explicit C-channel map z = g2(y), and the next response equals GAP of
    that BN applied to the explicit map."""
    module = make_ba2m(32, reduction=4, gsa_mode='exact', statistics='running')
    local = module.branches.index('local')
    x = torch.rand(3, 32, 7, 9)

    def explicit_map(x):
        projected = F.linear(
            x.permute(0, 2, 3, 1), module.local_spatial.g0.weight,
            module.local_spatial.g0.bias).permute(0, 3, 1, 2)
        y = F.relu(module.local_spatial.g1(F.relu(projected)))  # (N, d, H, W)
        g2 = module.local_spatial.g2.weight  # (C, d)
        return F.conv2d(y, g2[..., None, None])  # (N, C, H, W)

    module(x)  # first update: the running statistics become this batch's
    with torch.no_grad():
        z = explicit_map(x)
        torch.testing.assert_close(module.bn.running_mean[local], z.mean(dim=(0, 2, 3)))
        torch.testing.assert_close(
            module.bn.running_var[local], z.var(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
        x2 = torch.rand(2, 32, 7, 9)
        gamma, beta = module.bn.weight[local], module.bn.bias[local]
        rstd = module.bn.running_var[local].clamp(min=module.bn.eps).rsqrt()
        bn = ((explicit_map(x2) - module.bn.running_mean[local, :, None, None]) *
              (gamma * rstd)[:, None, None] + beta[:, None, None])
        torch.testing.assert_close(
            module.branch_responses(x2)[local], bn.mean(dim=(2, 3)), rtol=1e-4, atol=1e-5)


def test_batch_branches_use_batch_moments_and_a_cumulative_warm_up():
    """A_C and A_GS: BN over the batch (Eq. 6). The first update replaces the
    prior, the next ones average cumulatively (momentum 1/k)."""
    module = make_ba2m(gsa_mode='exact')
    raw = []
    for step in range(3):
        x = torch.randn(4, 32, 5, 5)
        with torch.no_grad():
            pooled, weight, _ = module._branch_outputs(x)  # h (B, N, d), W (B, C, d)
            z = torch.bmm(pooled, weight.transpose(1, 2))  # (B, N, C)
        raw.append(z)
        module(x)
        if step == 0:
            for b in (0, 2):  # channel, global
                torch.testing.assert_close(module.bn.running_mean[b], z[b].mean(0))
                torch.testing.assert_close(
                    module.bn.running_var[b], z[b].var(0), rtol=1e-4, atol=1e-5)
    for b in (0, 2):
        torch.testing.assert_close(module.bn.running_mean[b],
                                   torch.stack([r[b].mean(0) for r in raw]).mean(0))
    assert module.bn.num_batches_tracked == 3


# ----------------------------------------------------------------------------------------
# Global batch (sync=True): 2 processes give what 1 process gives for the concatenated
# batch, with the statistics of the global batch. 2 gloo processes on CPU.

SYNC_CASES = [((2, 2), 'softmax'), ((3, 1), 'scaled_softmax')]  # (3, 1): uneven, local batch 1
SYNC_STEPS = 2  # the second step runs on the statistics the first one left


def _sync_worker(rank, world_size, init_file, out_dir):
    import torch.distributed as dist
    dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    for case, (sizes, normalize) in enumerate(SYNC_CASES):
        module = make_ba2m(gsa_mode='exact', sync=True, normalize=normalize)
        start = sum(sizes[:rank])
        steps = []
        for step in range(SYNC_STEPS):
            x_all, target_all = _sync_inputs(sum(sizes), step)
            x = x_all[start:start + sizes[rank]].clone().requires_grad_()
            module.zero_grad()
            out = module(x)
            (out * target_all[start:start + sizes[rank]]).sum().backward()
            steps.append(
                dict(
                    out=out.detach(),
                    grad=x.grad,
                    param_grads={
                        n: p.grad.clone()
                        for n, p in module.named_parameters()
                    },
                    buffers={
                        n: b.clone()
                        for n, b in module.named_buffers()
                    }))
        torch.save(steps, os.path.join(out_dir, f'case{case}_rank{rank}.pth'))
    dist.destroy_process_group()


def _sync_inputs(n, step):
    gen = torch.Generator().manual_seed(1 + step)
    return torch.randn(n, 32, 5, 5, generator=gen), torch.randn(n, 32, 5, 5, generator=gen)


@pytest.fixture(scope='module')
def sync_results(tmp_path_factory):
    import torch.multiprocessing as mp
    out_dir = tmp_path_factory.mktemp('sync')
    # fork: the workers start from this process's imports (spawn re-imports torch, mmdet and
    # this module in each); the parent has no process group and one intra-op thread.
    mp.start_processes(
        _sync_worker,
        args=(2, str(out_dir / 'init'), str(out_dir)),
        nprocs=2,
        join=True,
        start_method='fork')
    return out_dir


@pytest.mark.parametrize('case', range(len(SYNC_CASES)))
def test_sync_equals_single_process_on_concatenated_batch(sync_results, case):
    sizes, normalize = SYNC_CASES[case]
    results = [torch.load(sync_results / f'case{case}_rank{r}.pth') for r in range(2)]

    module = make_ba2m(gsa_mode='exact', sync=True, normalize=normalize)
    # The global moments are sums over processes (an all-reduce), one process uses
    # torch.var_mean: the statistics agree to fp32 rounding, and so does everything
    # computed with them (where two branches are within rounding of a tie for the max of
    # Eq. 9, the gradient of that channel may go to either: compared at step 0).
    tol = dict(rtol=1e-4, atol=1e-5)
    for step in range(SYNC_STEPS):
        x_all, target_all = _sync_inputs(sum(sizes), step)
        x_all.requires_grad_()
        module.zero_grad()
        out = module(x_all)
        (out * target_all).sum().backward()
        ranks = [r[step] for r in results]
        torch.testing.assert_close(torch.cat([r['out'] for r in ranks]), out.detach(), **tol)
        # every rank holds the statistics of the global batch
        for name, buffer in module.named_buffers():
            for r in ranks:
                torch.testing.assert_close(r['buffers'][name], buffer, **tol)
        if step == 0:  # same prior statistics: exact up to summation order
            torch.testing.assert_close(torch.cat([r['grad'] for r in ranks]), x_all.grad)
            # parameter gradients summed over ranks (what DDP averages) equal the single one's
            for name, param in module.named_parameters():
                torch.testing.assert_close(
                    sum(r['param_grads'][name] for r in ranks), param.grad, rtol=1e-4, atol=1e-6)
