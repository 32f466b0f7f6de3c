"""ba2m_mm.visualization: the pictures of a BA2M run, on tiny synthetic inputs."""
import json
import math
import os.path as osp

import numpy as np
import pytest

from ba2m_mm.visualization import (by_stage, ema, load_ba2m_scalars, plot_ba2m_weights,
                                   plot_branch_shares, plot_tsne, stage_of, tsne_panel)

PNG = b'\x89PNG\r\n\x1a\n'


def png_size(path):
    """(width, height) from the IHDR chunk of a PNG."""
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == PNG
    return int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24], 'big')


def write_scalars(work_dir, names=('layer2', 'layer3', 'layer4'), steps=30, shares=True):
    """A run dir as LocalVisBackend writes it, with BA2MWeightHook's keys and a LoggerHook
    line (no BA2M key) between them. Returns the raw values by (name, stat)."""
    run = work_dir / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    rng = np.random.RandomState(0)
    raw = {}
    with open(run / 'scalars.json', 'w') as f:
        for step in range(1, steps + 1):
            record = {}
            for i, name in enumerate(names):
                w_max = 0.5 + 0.3 * step / steps + 0.05 * rng.randn()
                values = dict(w_max=w_max, w_min=1 - w_max, w_std=abs(w_max - 0.5))
                if shares:
                    a, b = rng.dirichlet((1, 1, 1))[:2]
                    values.update(share_channel=a, share_local=b, share_global=1 - a - b)
                for stat, value in values.items():
                    record[f'ba2m/{name}/{stat}'] = value
                    raw.setdefault((name, stat), []).append((step, value))
            f.write(json.dumps(dict(record, step=step)) + '\n')
            f.write(json.dumps(dict(lr=0.01, loss=1.0, step=step)) + '\n')
    return raw


def reference_ema(values, a):
    """Independent EMA: closed form s_t = a^t v_0 + sum_{k=1..t} (1 - a) a^(t-k) v_k."""
    return [
        a**t * values[0] + sum((1 - a) * a**(t - k) * values[k] for k in range(1, t + 1))
        for t in range(len(values))
    ]


@pytest.mark.parametrize('a', [0.0, 0.5, 0.9])
def test_ema_equals_reference(a):
    values = [math.sin(i) + 0.1 * i for i in range(40)]
    assert ema(values, a) == pytest.approx(reference_ema(values, a), rel=1e-12, abs=1e-12)
    assert ema([], a) == []
    with pytest.raises(ValueError, match='smoothing'):
        ema(values, 1.0)


def test_by_stage_averages_the_modules_of_a_stage():
    series = {
        'layer2.0': dict(w_std=[(1, 1.0), (2, 3.0)]),
        'layer2.1': dict(w_std=[(1, 3.0)]),
        'layer3': dict(w_std=[(1, 5.0)], w_min=[(1, 0.1)]),
    }
    assert stage_of('layer2.1') == 'layer2'
    assert by_stage(series, 'w_std') == {'layer2': [(1, 2.0), (2, 3.0)], 'layer3': [(1, 5.0)]}
    assert by_stage(series, 'w_min') == {'layer3': [(1, 0.1)]}


def test_load_reads_ba2m_keys_only(tmp_path):
    raw = write_scalars(tmp_path)
    series, file = load_ba2m_scalars(str(tmp_path))
    assert file.endswith(osp.join('vis_data', 'scalars.json'))
    assert sorted(series) == ['layer2', 'layer3', 'layer4']
    assert series['layer3']['w_max'] == raw[('layer3', 'w_max')]
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no BA2M weight scalars'):
        load_ba2m_scalars(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='neither a directory nor a file'):
        load_ba2m_scalars(str(tmp_path / 'missing'))


def test_weights_plot_one_panel_per_stage(tmp_path, monkeypatch):
    raw = write_scalars(tmp_path)
    drawn = []
    import matplotlib.axes
    original = matplotlib.axes.Axes.plot

    def spy(ax, x, y, *args, **kwargs):
        drawn.append((ax.get_title(), list(x), list(y), kwargs.get('alpha')))
        return original(ax, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, 'plot', spy)
    out = plot_ba2m_weights(str(tmp_path), smoothing=0.8)
    assert out == osp.join(str(tmp_path), 'ba2m_weights.png')
    width, height = png_size(out)
    assert width > 3 * height / 2  # three stage panels in a row
    # per stage and statistic: the raw trace (faint), then its EMA
    assert len(drawn) == 3 * 2 * 2
    w_max = [v for _, v in raw[('layer3', 'w_max')]]
    lines = [(y, alpha) for _, x, y, alpha in drawn if y[0] == w_max[0] and len(y) == 30]
    raw_line, smooth_line = lines[0], lines[1]
    assert raw_line == (w_max, pytest.approx(0.25))
    assert smooth_line[0] == pytest.approx(reference_ema(w_max, 0.8))


def test_branch_shares_plot_and_explicit_out(tmp_path):
    write_scalars(tmp_path, names=('layer1.0', 'layer1.1', 'layer2.0'))
    series, _ = load_ba2m_scalars(str(tmp_path))
    out = plot_branch_shares(series, str(tmp_path / 'pics' / 'shares.png'))
    assert out == str(tmp_path / 'pics' / 'shares.png')
    width, height = png_size(out)
    assert width > height  # two stage panels in a row
    with pytest.raises(ValueError, match='out is required'):
        plot_branch_shares(series)


def test_branch_shares_need_logged_shares(tmp_path):
    write_scalars(tmp_path, shares=False)
    with pytest.raises(ValueError, match='share_<branch>'):
        plot_branch_shares(str(tmp_path))
    assert osp.isfile(plot_ba2m_weights(str(tmp_path), stats=('w_std', )))


def test_tsne_panels_side_by_side(tmp_path):
    rng = np.random.RandomState(0)
    labels = np.repeat([0, 1, 2], 10)
    separated = rng.randn(30, 8) * 0.1 + np.eye(8)[labels] * 3  # three clusters
    mixed = rng.randn(30, 8)
    panels = [
        tsne_panel(separated, labels, 'ba2m', perplexity=5),
        tsne_panel(mixed, labels, 'plain', perplexity=5)
    ]
    assert panels[0]['embedding'].shape == (30, 2)
    assert panels[0]['silhouette'] > 0.5 > panels[1]['silhouette']
    out = plot_tsne(panels, str(tmp_path / 'tsne.png'), classes=['a', 'b', 'c'], caption='test')
    width, height = png_size(out)
    assert width > 1.5 * height
