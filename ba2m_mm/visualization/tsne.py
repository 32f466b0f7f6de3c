"""t-SNE of backbone features, BA2M and plain side by side (the paper's Fig. 1).

The features of :mod:`ba2m_mm.visualization.features` are embedded with scikit-learn's
``TSNE`` (PCA init, fixed seed) and plotted per model; each panel also gives the
silhouette score of the features by class (cosine, computed on the features, not the
embedding; higher = classes better separated, around 0 = no class structure).
The images are drawn stratified by class and seeded (:func:`stratified_indices`), not
the first of the split: annotation lists are often ordered by class.
"""
import os.path as osp
import random
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


def item_labels(dataset) -> Optional[List[List[int]]]:
    """Class ids of the items of every sample of ``dataset``: one per image
    (classification), one per object (detection); from the dataset's
    ``get_cat_ids`` (mmpretrain's and mmdet's datasets), None without it."""
    get_cat_ids = getattr(dataset, 'get_cat_ids', None)
    if get_cat_ids is None:
        return None
    return [[int(c) for c in get_cat_ids(i)] for i in range(len(dataset))]


def stratified_indices(labels: Sequence[Sequence[int]], max_items: int, seed: int = 0) -> List[int]:
    """Samples drawn class by class in turn, seeded, until they hold ``max_items`` items.

    The samples of each class (those with an item of the class) are shuffled with
    ``random.Random(seed)``; the classes, in the order of their ids, give one sample each
    per turn (a sample drawn already is skipped), so the first draws cover every class
    and a cut after any number of items keeps the classes balanced.

    Args:
        labels (Sequence[Sequence[int]]): Class ids of the items of every sample
            (:func:`item_labels`).
        max_items (int): Items wanted.
        seed (int): Seed of the draw. Defaults to 0.

    Returns:
        list[int]: Indices of the samples, in the order drawn.
    """
    rng = random.Random(seed)
    by_class: Dict[int, List[int]] = {}
    for index, classes in enumerate(labels):
        for label in sorted(set(classes)):
            by_class.setdefault(label, []).append(index)
    queues = [rng.sample(indices, len(indices)) for _, indices in sorted(by_class.items())]
    drawn: List[int] = []
    taken, count = set(), 0
    while count < max_items and queues:
        for queue in queues:
            while queue and queue[-1] in taken:
                queue.pop()
            if queue and count < max_items:
                drawn.append(queue.pop())
                taken.add(drawn[-1])
                count += len(labels[drawn[-1]])
        queues = [q for q in queues if q]
    return drawn


def stratified_loader(loader, max_items: int, seed: int = 0):
    """A dataloader over the samples of :func:`stratified_indices` (same batch size and
    collate function, no workers), or ``loader`` itself for a dataset without
    :func:`item_labels`."""
    from torch.utils.data import DataLoader, Subset
    labels = item_labels(loader.dataset)
    if labels is None:
        return loader
    indices = stratified_indices(labels, max_items, seed)
    return DataLoader(
        Subset(loader.dataset, indices),
        batch_size=loader.batch_size,
        shuffle=False,
        num_workers=0,
        collate_fn=loader.collate_fn)


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
        max_items (int): At most this many objects/images per model, drawn
            stratified by class (:func:`stratified_indices`). Defaults to 2000.
        batch_size (int): Defaults to 4.
        perplexity (float): t-SNE perplexity. Defaults to 30.
        seed (int): Seed of the t-SNE and of the draw. Defaults to 0.
        device (str): Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into every config.
        titles (Sequence[str], optional): Panel titles. Defaults to the config name and
            the checkpoint file name.
        caption (str, optional): Text under the panels.
        verbose (bool): Print one line per model (items, classes, silhouette).

    Returns:
        str: ``out``.

    Raises:
        ValueError: If the items drawn hold fewer than 2 classes.
    """
    if max_items < 5:
        raise ValueError(f'max_items (--max-items) must be >= 5 (t-SNE needs at least 5 items), '
                         f'got {max_items}')
    panels: List[Dict] = []
    classes = None
    for i, (config, checkpoint) in enumerate(runs):
        name = osp.splitext(osp.basename(config))[0]
        model, loader = build_model_and_loader(config, checkpoint, split, batch_size, cfg_options,
                                               device)
        classes = classes or list(loader.dataset.metainfo.get('classes', []) or []) or None
        loader = stratified_loader(loader, max_items, seed)
        feats, labels = extract_features(model, loader, max_items, desc=name)
        feats, labels = feats[:max_items], labels[:max_items]
        found = np.unique(labels).tolist()
        if len(found) < 2:
            raise ValueError(
                f'{name}: {len(labels)} items of split {split!r} (--split) with max_items '
                f'(--max-items) {max_items} hold {len(found)} class(es) {found}: a t-SNE by '
                'class needs at least 2; use a split with more classes')
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
