"""Plot the BA2M batch-weight statistics logged by ``BA2MWeightHook``.

Reads the scalars written by mmengine's ``LocalVisBackend``
(``WORK_DIR/<timestamp>/vis_data/scalars.json``, one JSON object a line) and
plots, per BA2M module, the standard deviation of the batch weights and their
normalised entropy (1 = uniform weights) against the training iteration.

Example::

    python tools/analysis/plot_ba2m_weights.py work_dirs/mask_rcnn_r50_ba2m_2x_coco
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from collections import defaultdict
from glob import glob
from typing import Dict, List, Tuple

KEY = re.compile(r'^(?:train/)?ba2m/(?P<name>.+)/(?P<stat>[^/]+)$')
PANELS = (('w_std', 'std of the batch weights'), ('entropy_norm',
                                                  'normalised entropy H / log N (1 = uniform)'))


def find_scalar_files(path: str) -> List[str]:
    """JSON scalar files of a work dir, a run dir (``<timestamp>``) or a file.

    Picks ``vis_data/scalars.json`` of the newest run that has BA2M scalars;
    falls back to the LoggerHook JSON log ``vis_data/<timestamp>.json``.
    """
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'WORK_DIR {path!r} is neither a directory nor a file')
    candidates = sorted(
        glob(osp.join(path, 'vis_data', '*.json')) +
        glob(osp.join(path, '*', 'vis_data', '*.json')),
        key=osp.getmtime,
        reverse=True)
    # scalars.json first within each run, then the newest run first.
    candidates.sort(key=lambda f: osp.basename(f) != 'scalars.json')
    return candidates


def load_ba2m_scalars(path: str) -> Tuple[Dict[str, Dict[str, List[Tuple[int, float]]]], str]:
    """Read ``ba2m/<name>/<stat>`` scalars.

    Args:
        path (str): Work dir, run dir or JSON scalar file.

    Returns:
        tuple: ``{name: {stat: [(step, value), ...]}}`` and the file read.
    """
    files = find_scalar_files(path)
    for file in files:
        series = defaultdict(lambda: defaultdict(list))
        with open(file) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                record = json.loads(line)
                step = record.get('step', record.get('iter'))
                for key, value in record.items():
                    match = KEY.match(key)
                    if match and step is not None and isinstance(value, (int, float)):
                        series[match['name']][match['stat']].append((int(step), float(value)))
        if series:
            return {k: dict(v) for k, v in series.items()}, file
    raise FileNotFoundError(
        f'no BA2M weight scalars (keys "ba2m/<name>/<stat>") in {path!r} (looked at '
        f'{files or "no vis_data/*.json file"}). Train with '
        "custom_hooks=[dict(type='BA2MWeightHook', interval=...)] and the default "
        'LocalVisBackend.')


def plot_ba2m_weights(series: Dict[str, Dict[str, List[Tuple[int, float]]]],
                      out: str,
                      title: str = '') -> str:
    """Write a PNG with one panel per statistic and one line per BA2M module."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(6 * len(PANELS), 4.2))
    for ax, (stat, label) in zip(axes, PANELS):
        for name in sorted(series):
            points = sorted(series[name].get(stat, []))
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, marker='.' if len(points) < 50 else None, label=name)
        ax.set_xlabel('iteration')
        ax.set_ylabel(stat)
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize='small', ncol=1 + len(series) // 8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        'work_dir',
        help='training work dir, one of its <timestamp> run dirs, or a '
        'vis_data/*.json file')
    parser.add_argument(
        '--out',
        help='output PNG (default: <work_dir>/ba2m_weights.png, or next to '
        'the JSON file)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    series, file = load_ba2m_scalars(args.work_dir)
    out = args.out or osp.join(
        args.work_dir if osp.isdir(args.work_dir) else osp.dirname(args.work_dir),
        'ba2m_weights.png')
    plot_ba2m_weights(series, out, title=file)
    num_points = max(len(v) for stats in series.values() for v in stats.values())
    print(f'read {file}: {len(series)} BA2M module(s), up to {num_points} logged iterations')
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
