"""t-SNE of backbone features, BA2M and plain side by side (the paper's Fig. 1).

The features of :mod:`ba2m_mm.visualization.features` are embedded with scikit-learn's
``TSNE`` (PCA init, fixed seed) and plotted per model; each panel also gives the
silhouette score of the features by class (cosine, computed on the features, not the
embedding; higher = classes better separated, around 0 = no class structure).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .features import build_model_and_loader, extract_features
from .figures import new_figure, save_png


def embed(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE embedding of (M, C) features (scikit-learn, PCA init).

    The perplexity is capped at ``(M - 1) / 3`` for small sets.
    """
    from sklearn.manifold import TSNE
    if len(features) < 5:
        raise ValueError(f't-SNE needs at least 5 items, got {len(features)}')
    perplexity = min(perplexity, (len(features) - 1) / 3)
    return TSNE(
        n_components=2, init='pca', random_state=seed, perplexity=perplexity,
        learning_rate='auto').fit_transform(features)


def separation(features: np.ndarray, labels: np.ndarray) -> Optional[float]:
    """Silhouette score of the features by class (cosine), None if undefined."""
    from sklearn.metrics import silhouette_score
    if not 2 <= len(np.unique(labels)) < len(labels):
        return None
    return float(silhouette_score(features, labels, metric='cosine'))


def tsne_panel(features: np.ndarray,
               labels: np.ndarray,
               title: str,
               seed: int = 0,
               perplexity: float = 30.0) -> Dict:
    """One panel of :func:`plot_tsne`: the embedding and the silhouette of ``features``.

    Returns:
        dict: ``title``, ``labels`` (M,), ``embedding`` (M, 2), ``silhouette``
        (float or None) and ``num_features`` (C).
    """
    return dict(
        title=title,
        labels=np.asarray(labels),
        embedding=embed(features, seed, perplexity),
        silhouette=separation(features, labels),
        num_features=features.shape[1])


def plot_tsne(panels: Sequence[Dict],
              out: str,
              classes: Optional[Sequence[str]] = None,
              caption: Optional[str] = None) -> str:
    """Draw t-SNE panels side by side, points coloured by class.

    Args:
        panels (Sequence[dict]): Panels of :func:`tsne_panel`.
        out (str): PNG to write.
        classes (Sequence[str], optional): Class names, indexed by label.
        caption (str, optional): Text under the panels, e.g. what the picture shows.

    Returns:
        str: ``out``.
    """
    from matplotlib import colormaps
    fig, axes = new_figure(len(panels), panel_size=(5.6, 5.2))
    all_labels = np.unique(np.concatenate([p['labels'] for p in panels]))
    cmap = colormaps['tab10' if len(all_labels) <= 10 else 'tab20']
    for ax, panel in zip(axes, panels):
        for i, label in enumerate(all_labels):
            mask = panel['labels'] == label
            name = classes[label] if classes and label < len(classes) else str(label)
            ax.scatter(
                panel['embedding'][mask, 0],
                panel['embedding'][mask, 1],
                s=6,
                color=cmap(i % cmap.N),
                label=name)
        sil = panel['silhouette']
        ax.set_title(
            f'{panel["title"]}\n{len(panel["labels"])} items' +
            (f', silhouette {sil:.3f}' if sil is not None else ''),
            fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(fontsize=7, markerscale=2, loc='center left', bbox_to_anchor=(1, 0.5))
    if caption:
        fig.supxlabel(caption, fontsize=9)
    return save_png(fig, out)


def plot_tsne_comparison(runs: Sequence[Tuple[str, str]],
                         out: str,
                         split: str = 'val',
                         max_items: int = 2000,
                         batch_size: int = 4,
                         perplexity: float = 30.0,
                         seed: int = 0,
                         device: str = 'cpu',
                         cfg_options: Optional[dict] = None,
                         titles: Optional[Sequence[str]] = None,
                         caption: Optional[str] = None,
                         verbose: bool = True) -> str:
    """t-SNE of the last-stage backbone features of one or more trained models, side by side.

    Typical use: ``runs=[(ba2m_config, ba2m_ckpt), (plain_config, plain_ckpt)]``.

    Args:
        runs (Sequence[tuple[str, str]]): ``(config, checkpoint)`` per panel.
        out (str): PNG to write.
        split (str): Dataloader of the configs to use. Defaults to ``'val'``.
        max_items (int): At most this many objects/images per model. Defaults to 2000.
        batch_size (int): Defaults to 4.
        perplexity (float): t-SNE perplexity. Defaults to 30.
        seed (int): t-SNE seed. Defaults to 0.
        device (str): Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into every config.
        titles (Sequence[str], optional): Panel titles. Defaults to the config name and
            the checkpoint file name.
        caption (str, optional): Text under the panels.
        verbose (bool): Print one line per model (items, classes, silhouette).

    Returns:
        str: ``out``.
    """
    panels: List[Dict] = []
    classes = None
    for i, (config, checkpoint) in enumerate(runs):
        name = osp.splitext(osp.basename(config))[0]
        model, loader = build_model_and_loader(config, checkpoint, split, batch_size, cfg_options,
                                               device)
        classes = classes or list(loader.dataset.metainfo.get('classes', []) or []) or None
        feats, labels = extract_features(model, loader, max_items, desc=name)
        feats, labels = feats[:max_items], labels[:max_items]
        title = titles[i] if titles else f'{name}\n{osp.basename(checkpoint)}'
        panel = tsne_panel(feats, labels, title, seed, perplexity)
        if verbose:
            sil = panel['silhouette']
            print(
                f'{name}: {len(labels)} items, {feats.shape[1]}-d features, '
                f'{len(np.unique(labels))} classes, silhouette (cosine) '
                f'{"n/a" if sil is None else f"{sil:.4f}"}',
                flush=True)
        panels.append(panel)
        del model, loader
    return plot_tsne(panels, out, classes, caption)
