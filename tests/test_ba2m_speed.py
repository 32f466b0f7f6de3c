"""What makes a BA2M training step cheap on GPUs, checked on CPU: few operators, no
host-device synchronisation, one graph under torch.compile, low precision under autocast.

A GPU step of BA2M is bound by kernel launches and host waits, not by FLOPs (see README
"Benchmarks"); these are the CPU-observable causes. No wall-clock time is asserted.
"""
import copy

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from ba2m_mm.models.layers import BA2M

# Operators that read a tensor's value on the host, i.e. wait for the device.
HOST_READS = ('aten::item', 'aten::_local_scalar_dense', 'aten::is_nonzero', 'aten::nonzero',
              'aten::bincount', 'aten::unique', 'aten::_unique2', 'aten::masked_select')


def make_ba2m(channels, reduction=32, **kwargs):
    torch.manual_seed(0)
    module = BA2M(channels, reduction=reduction, **kwargs)
    module.init_weights()
    return module.train()


def profile_step(module, x):
    """aten events of one forward+backward, after a warm-up step."""
    module(x).sum().backward()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        module(x).sum().backward()
    return prof.key_averages()


def test_op_count_of_a_training_step():
    """Issue #13: at most 400 aten ops per forward+backward of one BA2M with
    the defaults at C=1024 on a 2x50x84 input (1,760 before the redesign)."""
    events = profile_step(make_ba2m(1024), torch.randn(2, 1024, 50, 84, requires_grad=True))
    ops = sum(e.count for e in events if e.key.startswith('aten::'))
    assert ops <= 400, ops


@pytest.mark.parametrize('gsa_mode', ['exact', 'sampled'])
def test_no_host_device_sync_in_a_training_step(gsa_mode):
    """No operator that reads a value on the host (the finite check runs every
    ``finite_check_interval`` steps, not in this one)."""
    events = profile_step(
        make_ba2m(64, reduction=8, gsa_mode=gsa_mode),
        torch.randn(2, 64, 20, 20, requires_grad=True))
    reads = {e.key: e.count for e in events if e.key in HOST_READS}
    assert not reads, reads


@pytest.mark.parametrize('gsa_mode', ['exact', 'sampled'])
def test_compiles_as_one_graph(gsa_mode):
    """``torch.compile(ba2m, fullgraph=True)`` captures a training step (forward,
    statistics update, backward) without graph breaks and equals eager. The
    ``aot_eager`` backend keeps this test fast; inductor gives the same result
    (checked by hand: 65 s of compilation on a 2-core CPU)."""
    eager = make_ba2m(64, reduction=8, gsa_mode=gsa_mode)
    compiled = torch.compile(copy.deepcopy(eager), fullgraph=True, backend='aot_eager')
    for step in range(2):
        x = torch.randn(2, 64, 6, 7 + step, requires_grad=True)  # exact: 42, 48 positions
        torch.manual_seed(step)  # the same sampled positions in both
        out = compiled(x)
        out.sum().backward()
        grad, x.grad = x.grad, None
        torch.manual_seed(step)
        expected = eager(x)
        expected.sum().backward()
        if gsa_mode == 'exact':
            torch.testing.assert_close(out, expected)
            torch.testing.assert_close(grad, x.grad)
        assert out.shape == x.shape and torch.isfinite(grad).all()
    compiled_module = compiled._orig_mod
    assert compiled_module.bn.num_batches_tracked == 2  # the side effects happened
    if gsa_mode == 'exact':
        torch.testing.assert_close(compiled_module.bn.running_var, eager.bn.running_var)
        torch.testing.assert_close(compiled_module.last_weights, eager.last_weights)


def test_autocast_runs_the_branches_in_low_precision_and_the_weights_in_fp32():
    module = make_ba2m(64, reduction=8, gsa_mode='exact')
    seen = {}

    def record_conv_output(m, args, out):
        seen['conv'] = out.dtype

    module.local_spatial.g1.register_forward_hook(record_conv_output)
    gsa_forward = module.global_spatial.forward

    def record_attention_inputs(q, k, v, size):
        seen['attention'] = q.dtype
        return gsa_forward(q, k, v, size)

    module.global_spatial.forward = record_attention_inputs
    x = torch.randn(4, 64, 6, 6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        sar = module.sample_attention(x)
        y = module(x)
    assert seen == dict(conv=torch.bfloat16, attention=torch.bfloat16)
    assert sar.dtype == torch.float32  # SARs, max, softmax: fp32
    assert module.last_weights.dtype == torch.float32
    torch.testing.assert_close(module.last_weights.sum(), torch.tensor(4.0))
    assert torch.isfinite(y).all() and y.dtype == x.dtype
