"""The seeded comparison tool (ba2m_mm.compare): statistics on known inputs, reports,
resume and merge, without training (a stand-in run function)."""
import json
import math

import pytest
from scipy import stats

from ba2m_mm.compare import (Arm, Comparison, merge_reports, paired_difference, parse_arm,
                             summarize, t_interval)


def test_summary_mean_std_median():
    s = summarize([0.5, 0.7, 0.6, float('nan'), 0.9])
    assert s['n'] == 4 and s['mean'] == pytest.approx(0.675)
    assert s['diverged'] == 1 and s['diverged_seeds'] == [3]  # counted, not dropped silently
    assert s['std'] == pytest.approx(0.17078251, rel=1e-6)  # sample std, n - 1
    assert s['median'] == pytest.approx(0.65) and (s['min'], s['max']) == (0.5, 0.9)
    one = summarize([0.3])
    assert one['mean'] == one['median'] == 0.3 and math.isnan(one['std'])


def test_paired_difference_and_t_interval_on_known_inputs():
    arm = {0: 0.60, 1: 0.62, 2: 0.58, 3: 0.70}
    plain = {0: 0.55, 1: 0.60, 2: 0.59, 4: 0.99}  # seed 3 / 4 unpaired: left out
    d = paired_difference(arm, plain)
    assert d['per_seed'] == pytest.approx({0: 0.05, 1: 0.02, 2: -0.01})
    assert d['n'] == 3 and d['wins'] == 2
    assert d['mean'] == pytest.approx(0.02) and d['median'] == pytest.approx(0.02)
    # mean +- t_{0.975, 2} * s / sqrt(3), s = 0.03: t = 4.302653
    half = 4.302652729911275 * 0.03 / math.sqrt(3)
    assert d['ci'] == pytest.approx((0.02 - half, 0.02 + half))
    assert t_interval([1.0, 2.0, 3.0], 0.9) == pytest.approx(
        (2 - stats.t.ppf(0.95, 2) / math.sqrt(3), 2 + stats.t.ppf(0.95, 2) / math.sqrt(3)))
    assert all(math.isnan(v) for v in t_interval([1.0]))


def test_diverged_seeds_are_counted_and_named():
    """NaN, +-inf and None are diverged runs: out of every statistic, and
    counted (summaries) or named with the side that diverged (pairs)."""
    s = summarize({0: 0.5, 1: float('inf'), 2: 0.7, 3: None, 4: float('nan'), 5: 0.9})
    assert (s['n'], s['diverged'], s['diverged_seeds']) == (3, 3, [1, 3, 4])
    assert s['mean'] == pytest.approx(0.7) and s['std'] == pytest.approx(0.2)
    assert (s['min'], s['max'], s['median']) == (0.5, 0.9, 0.7)
    none = summarize([float('nan'), float('-inf')])
    assert none['n'] == 0 and none['diverged'] == 2 and math.isnan(none['mean'])
    # the finite pairs of test_paired_difference_and_t_interval_on_known_inputs, plus a
    # seed where the arm diverged, one where the reference did and one where both did
    arm = {0: 0.60, 1: 0.62, 2: 0.58, 5: float('nan'), 6: 0.70, 7: float('inf')}
    plain = {0: 0.55, 1: 0.60, 2: 0.59, 5: 0.50, 6: float('nan'), 7: None, 8: 0.4}
    d = paired_difference(arm, plain)
    assert d['per_seed'] == pytest.approx({0: 0.05, 1: 0.02, 2: -0.01})
    assert d['diverged'] == 3 and d['diverged_seeds'] == {5: 'arm', 6: 'reference', 7: 'both'}
    assert (d['n'], d['wins']) == (3, 2) and d['mean'] == pytest.approx(0.02)
    half = 4.302652729911275 * 0.03 / math.sqrt(3)  # t_{0.975, 2} s / sqrt(3), as above
    assert d['ci'] == pytest.approx((0.02 - half, 0.02 + half))
    # an interval over a diverged value is undefined, not an interval over the rest
    assert all(math.isnan(v) for v in t_interval([1.0, float('nan'), 3.0]))
    assert all(math.isnan(v) for v in t_interval([1.0, float('inf'), 3.0]))


def test_report_shows_diverged_seeds(tmp_path):
    """A BA2M seed that diverged (NaN accuracy) appears in every table of the
    markdown report, and again when the report is rendered from its JSON."""
    from ba2m_mm.compare.doc_tables import render_table

    def run(cfg, evaluate):
        out = fake_run(cfg, evaluate)
        if cfg.model == 'ba2m' and cfg.randomness['seed'] == 1:
            out['metrics']['accuracy/top1'] = float('nan')
        return out

    report = ba2m_and_plain(tmp_path, run).run()
    ba2m, plain = report['summary']
    assert ba2m['metrics']['accuracy/top1']['n'] == 2
    assert ba2m['metrics']['accuracy/top1']['diverged'] == 1
    assert ba2m['metrics']['accuracy/top1']['mean'] == pytest.approx(0.02)  # seeds 0 and 2
    (diff, ) = report['differences']
    assert diff['diverged_seeds'] == {1: 'arm'} and diff['n'] == 2
    md = (tmp_path / 'comparison.md').read_text()
    assert '| BA2M | 2 (+1 diverged) | 0.020 ± 0.014 (0.020) |' in md
    assert '| plain | 3 | 0.010 ± 0.010 (0.010) |' in md
    assert '| BA2M - plain | 0: +0.010, 1: diverged (arm), 2: +0.010 |' in md
    assert '| 2/2 (+1 diverged) |' in md
    assert '| BA2M | 1 | diverged |' in md
    json_path = str(tmp_path / 'comparison.json')
    assert '2 (+1 diverged)' in render_table(json_path, 'summary')
    assert '1: diverged (arm)' in render_table(json_path, 'differences')


def test_a_run_that_raises_non_finite_is_recorded_as_diverged(tmp_path):
    """BA2M's non-finite check stops a diverging run with a ValueError: the
    comparison records it (NaN metric, the message) and goes on; other errors
    still stop it."""

    def run(cfg, evaluate):
        if cfg.model == 'ba2m' and cfg.randomness['seed'] == 1:
            raise ValueError('BA2M (layer2): non-finite sample attention (SAR) values')
        return fake_run(cfg, evaluate)

    report = ba2m_and_plain(tmp_path, run).run()
    (diverged, ) = [r for r in report['results'] if r.get('diverged')]
    assert (diverged['arm'], diverged['seed']) == ('ba2m', 1)
    assert 'non-finite sample attention' in diverged['diverged']
    assert report['summary'][0]['metrics']['accuracy/top1']['diverged'] == 1
    assert len(report['results']) == 6

    def broken(cfg, evaluate):
        raise ValueError('bad config')

    arms = [Arm('ba2m', 'a.py', {'x': 1}, 'BA2M'), Arm('plain', 'b.py')]
    with pytest.raises(ValueError, match='bad config'):
        Comparison(
            arms, [0], str(tmp_path / 'b'), 'accuracy/top1', make_config=make_config,
            run=broken).run()


def ba2m_and_plain(tmp_path, run):
    """A BA2M arm and its plain reference over seeds 0-2, run by ``run``."""
    arms = [Arm('ba2m', 'a.py', {'x': 1}, 'BA2M'), Arm('plain', 'b.py')]
    return Comparison(
        arms, [0, 1, 2],
        str(tmp_path),
        'accuracy/top1',
        reference='plain',
        make_config=make_config,
        run=run)


def fake_run(cfg, evaluate):
    """Metric = seed / 100 (+ 0.01 for the BA2M arm): known paired differences."""
    bonus = 0.01 if cfg.model == 'ba2m' else 0.0
    return dict(
        metrics={'accuracy/top1': cfg.randomness['seed'] / 100 + bonus},
        train_time=2.0 if cfg.model == 'ba2m' else 1.0,
        eval_time=0.1,
        iters=10,
        step_time=0.2 if cfg.model == 'ba2m' else 0.1,
        threads=1,
        weight_spread={
            'layer2': dict(w_std=0.1, w_std_first=0.0, w_std_last=0.2, w_max=1.5, logged=10)
        } if cfg.model == 'ba2m' else {})


def make_config(arm, seed, work_dir, group):
    from mmengine.config import Config
    return Config(dict(model=arm.name, randomness=dict(seed=seed), work_dir=work_dir))


def comparison(tmp_path, seeds, calls, name='comparison'):

    def run(cfg, evaluate):
        calls.append((cfg.model, cfg.randomness['seed']))
        return fake_run(cfg, evaluate)

    arms = [Arm('ba2m', 'a.py', {'x': 1}, 'BA2M'), Arm('plain', 'b.py')]
    return Comparison(
        arms,
        seeds,
        str(tmp_path),
        'accuracy/top1',
        reference='plain',
        make_config=make_config,
        run=run,
        name=name)


def test_comparison_reports_resumes_and_merges(tmp_path):
    calls = []
    report = comparison(tmp_path, [0, 1, 2], calls).run()
    assert calls == [('ba2m', 0), ('plain', 0), ('ba2m', 1), ('plain', 1), ('ba2m', 2),
                     ('plain', 2)]  # seeds outermost
    ba2m, plain = report['summary']
    assert ba2m['metrics']['accuracy/top1']['mean'] == pytest.approx(0.02)
    assert ba2m['metrics']['accuracy/top1']['median'] == pytest.approx(0.02)
    assert ba2m['step_ratio'] == pytest.approx(2.0) and plain['step_ratio'] == pytest.approx(1.0)
    assert ba2m['weight_spread']['layer2']['w_std_last']['mean'] == pytest.approx(0.2)
    (diff, ) = report['differences']
    assert diff['per_seed'] == pytest.approx({0: 0.01, 1: 0.01, 2: 0.01}) and diff['wins'] == 3
    md = (tmp_path / 'comparison.md').read_text()
    assert 'BA2M - plain' in md and '| BA2M | 3 | 0.020 ± 0.010 (0.020) |' in md
    # resume: the finished runs are kept, only the new seed runs
    calls.clear()
    report = comparison(tmp_path, [0, 1, 2, 3], calls).run()
    assert calls == [('ba2m', 3), ('plain', 3)] and len(report['results']) == 8
    # merge: two reports of other seeds, one overlapping run kept once
    other = tmp_path / 'other'
    comparison(other, [3, 4], []).run()
    merged = merge_reports([str(tmp_path / 'comparison.json'),
                            str(other / 'comparison.json')], str(tmp_path / 'merged'))
    assert sorted(r['seed'] for r in merged['results'] if r['arm'] == 'plain') == [0, 1, 2, 3, 4]
    assert json.loads(
        (tmp_path / 'merged' / 'comparison.json').read_text())['seeds'] == [0, 1, 2, 3, 4]


def test_bad_arguments_name_the_value(tmp_path):
    with pytest.raises(ValueError, match=r"seeds must be distinct integers >= 0, got \[0, 0\]"):
        comparison(tmp_path, [0, 0], [])
    with pytest.raises(ValueError, match="reference must be one of the arms .* got 'nope'"):
        Comparison([Arm('a', 'a.py')], [0], str(tmp_path), 'm', reference='nope')
    with pytest.raises(FileNotFoundError, match="--arm x: config not found: 'missing.py'"):
        parse_arm(['x', 'missing.py'])
    cfg = tmp_path / 'c.py'
    cfg.write_text('a = 1\n')
    arm = parse_arm(['r4', str(cfg), 'model.backbone.ba2m_cfg.reduction=4', 'b=(True,False)'])
    assert arm.cfg_options == {'model.backbone.ba2m_cfg.reduction': 4, 'b': (True, False)}
    with pytest.raises(ValueError, match="option 'oops' is not KEY=VALUE"):
        parse_arm(['r4', str(cfg), 'oops'])


def test_comparison_runs_write_checkpoints_the_safe_loader_reads():
    """The testbed's OneCycleLR checkpoints resume without --unsafe-load only
    through AtomicCheckpointHook (tests/test_reliability.py): every arm gets it."""
    from ba2m_mm.compare.experiment import default_config
    from ba2m_mm.compare.testbed import verdict_arms
    for arm in verdict_arms(1.0):
        cfg = default_config(arm, 100, '/tmp/unused')
        assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook', arm.name
        assert cfg.default_hooks.checkpoint.interval == 1
