"""Pictures of a BA2M run over training: batch weights and branch shares, per stage.

Both read the statistics ``BA2MWeightHook`` logged (:mod:`ba2m_mm.visualization.scalars`)
and draw one panel per stage: each series smoothed (:func:`~.scalars.ema`) as a solid
line, with the raw per-iteration trace faint behind it.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

from .figures import new_figure, save_png
from .scalars import Series, branch_names, by_stage, ema, load_ba2m_scalars

WEIGHT_STATS = {
    'w_max': 'largest weight',
    'w_min': 'smallest weight',
    'w_std': 'std of the weights',
    'entropy_norm': 'normalised entropy',
}
RAW_ALPHA = 0.25


def _source(source: Union[str, os.PathLike, Series], out: Optional[str],
            default_name: str) -> Tuple[Series, str, str]:
    """(series, where they came from, output path) for a path or loaded series."""
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
        series, file = load_ba2m_scalars(source)
        if out is None:
            folder = source if osp.isdir(source) else osp.dirname(source)
            out = osp.join(folder, default_name)
        return series, file, out
    if out is None:
        raise ValueError('out is required when the series are given directly')
    series = {
        name: {
            stat: sorted(points)
            for stat, points in stats.items()
        }
        for name, stats in source.items()
    }
    return series, '', out


def _trace(ax, points, smoothing: float, color, label: str) -> None:
    """The raw trace faint, its EMA solid."""
    steps = [s for s, _ in points]
    values = [v for _, v in points]
    ax.plot(steps, values, color=color, alpha=RAW_ALPHA, linewidth=0.8)
    ax.plot(steps, ema(values, smoothing), color=color, linewidth=1.8, label=label)


def _plot_panels(lines: Dict[str, Dict[str, list]],
                 stages: Sequence[str],
                 ylabel: str,
                 smoothing: float,
                 out: str,
                 title: str,
                 ylim: Optional[Tuple[float, float]] = None) -> str:
    """One panel per stage, one traced line per ``{label: {stage: points}}``."""
    fig, axes = new_figure(len(stages))
    from matplotlib import colormaps
    colors = colormaps['tab10']
    for ax, stage in zip(axes, stages):
        for i, (label, per_stage) in enumerate(lines.items()):
            points = per_stage.get(stage)
            if points:
                _trace(ax, points, smoothing, colors(i), label)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_title(stage)
        ax.set_xlabel('iteration')
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize='small')
    fig.suptitle(title, fontsize=9)
    return save_png(fig, out)


def plot_ba2m_weights(source: Union[str, os.PathLike, Series],
                      out: Optional[str] = None,
                      stats: Sequence[str] = ('w_max', 'w_min'),
                      smoothing: float = 0.9,
                      title: Optional[str] = None) -> str:
    """Plot the BA2M batch weights per stage over training.

    One panel per stage (``layer1``..``layer4``; the modules of an ``'inside'`` stage are
    averaged), one line per statistic of ``stats``: by default the largest and the
    smallest weight of each logged batch, so the gap between the two lines is how
    unequally BA2M weights the samples (softmax weights of a batch of N are all 1/N when
    BA2M does nothing). Each line is the EMA of the logged values; the raw values are
    drawn faint behind it.

    Args:
        source (str | dict): A work dir, run dir or ``vis_data/scalars.json`` of a run
            with ``BA2MWeightHook``, or the series of
            :func:`~ba2m_mm.visualization.load_ba2m_scalars`.
        out (str, optional): PNG to write. Defaults to ``ba2m_weights.png`` in the work
            dir (next to the file when ``source`` is a file); required for series.
        stats (Sequence[str]): Statistics to draw, from ``'w_max'``, ``'w_min'``,
            ``'w_std'``, ``'entropy_norm'``, ``'entropy'``. Defaults to
            ``('w_max', 'w_min')``.
        smoothing (float): EMA factor in [0, 1). Defaults to 0.9.
        title (str, optional): Figure title. Defaults to the file read.

    Returns:
        str: The PNG path written.
    """
    series, file, out = _source(source, out, 'ba2m_weights.png')
    per_stat = {stat: by_stage(series, stat) for stat in stats}
    stages = sorted({stage for stat in per_stat.values() for stage in stat})
    if not stages:
        raise ValueError(f'none of the statistics {tuple(stats)} was logged')
    return _plot_panels({WEIGHT_STATS.get(stat, stat): per_stat[stat]
                         for stat in stats}, stages, 'batch weight', smoothing, out,
                        title if title is not None else
                        f'BA2M batch weights per stage (EMA {smoothing:g}, raw faint)\n{file}')


def plot_branch_shares(source: Union[str, os.PathLike, Series],
                       out: Optional[str] = None,
                       smoothing: float = 0.9,
                       title: Optional[str] = None) -> str:
    """Plot, per stage, the share of the channel-wise max won by each BA2M branch.

    ``BA2MWeightHook`` logs ``share_<branch>`` (:attr:`BA2M.last_branch_share`): of the
    channel-wise max of the three branch responses (paper Eq. 9), the fraction each
    branch (channel, local spatial, global spatial) wins in the logged batch. The shares
    of a stage sum to 1. One panel per stage, one line per branch (EMA, raw faint).

    Args:
        source (str | dict): As for :func:`plot_ba2m_weights`.
        out (str, optional): PNG to write. Defaults to ``ba2m_branch_shares.png`` in the
            work dir; required for series.
        smoothing (float): EMA factor in [0, 1). Defaults to 0.9.
        title (str, optional): Figure title. Defaults to the file read.

    Returns:
        str: The PNG path written.
    """
    series, file, out = _source(source, out, 'ba2m_branch_shares.png')
    branches = branch_names(series)
    if not branches:
        raise ValueError('no share_<branch> statistic was logged (BA2MWeightHook logs them '
                         'for every BA2M that ran in training mode)')
    per_branch = {b: by_stage(series, f'share_{b}') for b in branches}
    stages = sorted({stage for shares in per_branch.values() for stage in shares})
    return _plot_panels(
        per_branch,
        stages,
        'share of the max won',
        smoothing,
        out,
        title if title is not None else
        f'BA2M branch shares per stage (EMA {smoothing:g}, raw faint)\n{file}',
        ylim=(-0.02, 1.02))
