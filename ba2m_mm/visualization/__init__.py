"""Pictures of BA2M runs, for ``tools/demo.py`` and ``tools/analysis/``.

Each ``plot_*`` function writes one PNG (matplotlib, Agg canvas, no pyplot state) and
returns its path:

- :func:`plot_ba2m_weights`: the batch weights per stage over training, from the
  ``vis_data/scalars.json`` of a run with ``BA2MWeightHook``; smoothed, raw faint behind;
- :func:`plot_branch_shares`: the share of Eq. 9's max won by each branch, per stage;
- :func:`plot_tsne_comparison`: t-SNE of the last-stage features of trained models
  (e.g. BA2M and plain), side by side, with each panel's silhouette score.

The t-SNE needs scikit-learn and mmcv's ops (``pip install ba2m_mm[tools]``).
"""
from .ba2m_weights import plot_ba2m_weights, plot_branch_shares
from .features import boxes_of, build_model_and_loader, extract_features, fix_pipeline
from .scalars import branch_names, by_stage, ema, find_scalar_files, load_ba2m_scalars, stage_of
from .tsne import embed, plot_tsne, plot_tsne_comparison, separation, tsne_panel

__all__ = [
    'plot_ba2m_weights', 'plot_branch_shares', 'plot_tsne_comparison', 'plot_tsne', 'tsne_panel',
    'embed', 'separation', 'build_model_and_loader', 'extract_features', 'fix_pipeline', 'boxes_of',
    'load_ba2m_scalars', 'find_scalar_files', 'by_stage', 'ema', 'stage_of', 'branch_names'
]
