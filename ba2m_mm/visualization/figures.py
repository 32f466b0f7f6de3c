"""Matplotlib helpers shared by the plots: a figure without pyplot, and saving it."""
import math
import os
import os.path as osp
from typing import Tuple


def new_figure(num_panels: int, panel_size: Tuple[float, float] = (4.2, 3.2), max_cols: int = 4):
    """A figure with ``num_panels`` axes in a grid (Agg canvas; no pyplot state).

    Returns:
        tuple: The ``matplotlib.figure.Figure`` and its flat list of axes, unused
        axes hidden.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    cols = max(1, min(num_panels, max_cols))
    rows = max(1, math.ceil(num_panels / cols))
    fig = Figure(figsize=(panel_size[0] * cols, panel_size[1] * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[num_panels:]:
        ax.set_visible(False)
    return fig, axes[:num_panels]


def save_png(fig, out: str, dpi: int = 120) -> str:
    """Write ``fig`` to ``out`` (folders created) and return ``out``."""
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi, format='png')
    return out
