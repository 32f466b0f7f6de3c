"""The benchmark's fast paths: --dtype, --channels-last, --fast-paths (the four-setting
table), the testbed setting, and the one step timer that the benchmark and the comparison
tool share. No test asserts a wall-clock time: tables are checked on given times."""
import json
import os.path as osp
import sys

import pytest
import torch

from ba2m_mm.analysis import benchmark_report, benchmark_settings, comparison_models, step_timing
from ba2m_mm.models.layers import BA2M

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', 'tools', 'analysis'))
import benchmark  # noqa: E402

REAL_TESTBED_CFG = comparison_models.testbed_model_cfg


def tiny_testbed_cfg(name):
    """The testbed classifier of ``name`` at width 8."""
    model = REAL_TESTBED_CFG(name)
    model['backbone'].update(stem_channels=8, base_channels=8)
    model['head']['in_channels'] = 64
    return model


def test_interleaved_times_alternates_arms_and_skips_warmup(monkeypatch):
    """With a fake clock: every round runs arm a's measures, then arm b's; the warm-up
    rounds are run but not timed; before_round starts each round."""
    clock, order = [0.0], []
    monkeypatch.setattr(step_timing.time, 'perf_counter', lambda: clock[0])

    def call(name, cost):

        def fn():
            order.append(name)
            clock[0] += cost

        return fn

    rounds_seen, progress = [], []
    times = step_timing.interleaved_times([(call('a-train', 3.0), call('a-infer', 1.0)),
                                           (call('b-train', 2.0), )],
                                          rounds=2,
                                          steps=2,
                                          warmup_rounds=1,
                                          before_round=lambda: rounds_seen.append(len(order)),
                                          after_arm=lambda r, a, s: progress.append((r, a, s)))
    assert order == ['a-train', 'a-train', 'a-infer', 'a-infer', 'b-train', 'b-train'] * 3
    assert rounds_seen == [0, 6, 12]
    assert times == [[[3.0, 3.0], [1.0, 1.0]], [[2.0, 2.0]]]  # s per call, per timed round
    assert progress == [(0, 0, [3.0, 1.0]), (0, 1, [2.0]), (1, 0, [3.0, 1.0]), (1, 1, [2.0])]


def fake_mode(batch, plain_times, ba2m_times, amp=False, channels_last=False):
    """A run_setting result (training steps only) with the given per-round seconds."""
    import statistics
    models = {}
    for name, times in (('plain', plain_times), ('ba2m-auto', ba2m_times)):
        models[name] = dict(train_s=statistics.median(times), train_times=times)
    for r in models.values():
        r['train_ratio'] = r['train_s'] / models['plain']['train_s']
    return dict(
        batch=batch,
        shape=[32, 32],
        rounds=len(plain_times),
        steps=1,
        warmup=1,
        device='cpu',
        amp=amp,
        channels_last=channels_last,
        models=models)


def test_fast_path_table_from_given_times():
    modes = {
        'fp32': fake_mode(256, [2.56, 2.56, 2.56], [3.2, 3.6, 3.4]),
        'bf16+cl': fake_mode(256, [25.6, 25.6, 51.2], [30.72, 25.6, 51.2], True, True),
        'fp32+cl': fake_mode(256, [1.28, 1.28, 1.28], [1.6, 1.6, 1.6], False, True),
    }
    text = benchmark_report.format_fast_paths('testbed', modes, threads=1)
    lines = text.split('\n')
    assert lines[0] == ('testbed: batch 256, 32x32, cpu, 1 thread(s); training step, ms per '
                        'image (median of the rounds); ratio = model / plain of the medians '
                        '(min-max of the per-round ratios)')
    assert lines[2] == ('| setting | rounds x steps | plain ms/image | ba2m-auto ms/image | '
                        'ba2m-auto / plain | plain vs fp32 plain |')
    # rows in the order fp32, bf16, fp32+cl, bf16+cl (bf16 not run here)
    assert lines[4:] == [
        '| fp32 | 3 x 1 | 10.00 | 13.28 | 1.328 (1.25-1.41) | 1.00x |',
        '| fp32+cl | 3 x 1 | 5.00 | 6.25 | 1.250 (1.25-1.25) | 2.00x faster |',
        '| bf16+cl | 3 x 1 | 100.00 | 120.00 | 1.200 (1.00-1.20) | 0.10x (slower) |',
    ]
    with pytest.raises(ValueError, match='needs plain'):
        benchmark_report.format_fast_paths('testbed',
                                           {'fp32': dict(modes['fp32'], models={'ba2m-auto': {}})})


def test_candidate_in_each_fast_path(monkeypatch):
    """Candidate: channels_last converts the model (as ChannelsLastHook), amp gives the
    CPU AMP wrapper; a training step runs and BA2M's weights stay fp32."""
    from ba2m_mm.launch import CPUAmpOptimWrapper
    monkeypatch.setattr(comparison_models, 'testbed_model_cfg', tiny_testbed_cfg)
    c = step_timing.Candidate(
        'testbed', 'ba2m-auto', torch.device('cpu'), 4, (32, 32), amp=True, channels_last=True)
    conv = c.model.backbone.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert isinstance(c.optim, CPUAmpOptimWrapper)
    assert c.model.head.num_classes == 10 and len(c.data['inputs']) == 4
    c.train_step()
    weights = [m.last_weights for m in c.model.modules() if isinstance(m, BA2M)]
    assert len(weights) == 4 and all(w.dtype == torch.float32 for w in weights)
    plain = step_timing.Candidate('testbed', 'plain', torch.device('cpu'), 4, (32, 32))
    assert plain.model.backbone.conv1.weight.is_contiguous()
    assert not any(isinstance(m, BA2M) for m in plain.model.modules())
    with pytest.raises(ValueError, match="testbed compares plain and BA2M only.*'gcnet'"):
        comparison_models.testbed_model_cfg('gcnet')


def test_testbed_setting_is_the_testbed_configs():
    from mmengine.config import Config
    for name, config in (('plain', 'resnet18_cifar10_testbed.py'),
                         ('ba2m-auto', 'resnet18_ba2m_cifar10_testbed.py')):
        cfg = Config.fromfile(osp.join(comparison_models.CONFIG_DIR, config))
        model = comparison_models.testbed_model_cfg(name)
        assert model['backbone'] == dict(
            cfg.model.backbone.to_dict(),
            **({} if name == 'plain' else dict(
                ba2m_cfg=dict(cfg.model.backbone.ba2m_cfg.to_dict(), gsa_mode='auto'))))
        assert model['data_preprocessor'] == cfg.data_preprocessor.to_dict()
    spec = benchmark_settings.setting_spec('testbed', torch.device('cpu'))
    assert spec['batch'] == cfg.train_dataloader.batch_size == 256 and spec['shape'] == (32, 32)


def test_fast_paths_run_writes_the_four_setting_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(comparison_models, 'testbed_model_cfg', tiny_testbed_cfg)
    threads = torch.get_num_threads()
    try:
        results = benchmark.main([
            '--fast-paths', '--settings', 'testbed', '--rounds', '2', '--steps', '1', '--warmup',
            '0', '--batch-size', '4', '--threads', '1', '--out-dir',
            str(tmp_path)
        ])
    finally:
        torch.set_num_threads(threads)
    modes = results['testbed']
    assert list(modes) == ['fp32', 'bf16', 'fp32+cl', 'bf16+cl']
    for mode, res in modes.items():
        assert (res['amp'], res['channels_last']) == benchmark_settings.FAST_PATHS[mode]
        assert list(res['models']) == ['plain', 'ba2m-auto']
        ba2m = res['models']['ba2m-auto']
        assert len(ba2m['train_times']) == 2 and ba2m['infer_s'] is None
        assert ba2m['train_ratio'] == pytest.approx(ba2m['train_s'] /
                                                    res['models']['plain']['train_s'])
    with open(tmp_path / 'fast_paths.json') as f:
        saved = json.load(f)
    assert saved['threads'] == 1 and list(saved['results']['testbed']) == list(modes)
    table = (tmp_path / 'fast_paths.md').read_text()
    rows = [line for line in table.splitlines() if line.startswith('| ') and '---' not in line]
    assert [r.split(' | ')[0]
            for r in rows] == ['| setting', '| fp32', '| bf16', '| fp32+cl', '| bf16+cl']
    assert table.strip() in capsys.readouterr().out


@pytest.mark.parametrize('argv, message', [
    (['--dtype', 'fp16'], "--dtype must be fp32 or bf16, got 'fp16'"),
    (['--fast-paths', 'fp32', 'fp16'], "--fast-paths: unknown mode(s) 'fp16'"),
    (['--amp', '--dtype', 'fp32'], '--amp is --dtype bf16; it contradicts --dtype fp32'),
    (['--fast-paths', '--dtype', 'bf16'], 'leave out --dtype, --amp and --channels-last'),
    (['--fast-paths', '--channels-last'], 'leave out --dtype, --amp and --channels-last'),
    (['--fast-paths', '--profile'], 'does not combine with --profile'),
    (['--fast-paths', '--models', 'ba2m-auto'], '--fast-paths gives ratios to plain'),
    (['--threads', '0'], '--threads must be >= 1, got 0'),
])
def test_fast_path_arguments_errors_name_the_option(argv, message, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(argv)
    assert message in capsys.readouterr().err


def test_fast_path_arguments():
    args = benchmark.parse_args(['--dtype', 'bf16', '--channels-last'])
    assert args.amp and args.dtype == 'bf16' and args.channels_last
    args = benchmark.parse_args(['--amp'])
    assert args.amp and args.dtype == 'bf16' and not args.channels_last
    args = benchmark.parse_args([])
    assert not args.amp and args.dtype == 'fp32' and args.fast_paths is None
    assert benchmark.parse_args(['--fast-paths']).fast_paths == list(benchmark_settings.FAST_PATHS)
    assert benchmark.parse_args(['--fast-paths', 'bf16+cl', 'fp32',
                                 'fp32']).fast_paths == ['bf16+cl', 'fp32']
