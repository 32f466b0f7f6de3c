"""Named comparisons: arms, metric and data of each testbed (``tools/compare.py --preset``).

The configs come from the repository's ``configs/`` in a source checkout and from the
package's ``.mim/configs/ba2m/`` (where ``setup.py`` installs them) in an installed wheel;
the CIFAR-10 data from ``--data-root`` / ``--archive``, whose defaults only exist in the
repository layout (``data/cifar10`` and ``../shared/data/cifar10-jpeg.tar.gz`` beside it).
"""
import inspect
import os.path as osp
from typing import Dict, Optional

from mmengine.config import Config

from .det_testbed import DET_METRICS, DET_PRESETS, DET_REFERENCES, det_testbed_arms
from .experiment import Arm
from .testbed import se_control_arms, strength_study_arms, verdict_arms

PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))  # ba2m_mm/
REPO = osp.dirname(PACKAGE)  # the checkout; in an installed wheel, site-packages
MIM_CONFIGS = ('.mim', 'configs', 'ba2m')
BA2M_CPU = 'resnet18_ba2m_cpu_cifar10.py'
PLAIN_CPU = 'resnet18_cpu_cifar10.py'
BA2M_FULL = 'resnet18_ba2m_1xb128_cifar10.py'
PLAIN_FULL = 'resnet18_1xb128_cifar10.py'
BA2M_CFG = 'model.backbone.ba2m_cfg'
SPLITS = ('train', 'val', 'test')


def repo_layout() -> bool:
    """Whether ba2m_mm runs from a source checkout (``configs/`` beside the package)."""
    return osp.isfile(osp.join(REPO, 'configs', PLAIN_CPU))


def config_dir() -> str:
    """The folder of the configs: the repository's ``configs/``, else the installed
    package's ``.mim/configs/ba2m/``."""
    return osp.join(REPO, 'configs') if repo_layout() else osp.join(PACKAGE, *MIM_CONFIGS)


DATA_FOLDERS = {'cifar10': 'cifar10', 'digits-testbed': 'digits_testbed'}


def default_data_root(kind: str = 'cifar10') -> str:
    """``data/cifar10`` (or ``data/digits_testbed`` for ``kind='digits-testbed'``) of the
    repository; relative to the working directory (as in the configs) without the
    repository layout."""
    folder = osp.join('data', DATA_FOLDERS[kind])
    return osp.join(REPO, folder) if repo_layout() else folder


def default_archive() -> Optional[str]:
    """``../shared/data/cifar10-jpeg.tar.gz`` beside the repository; None without the
    repository layout (give ``--archive``)."""
    if not repo_layout():
        return None
    return osp.join(osp.dirname(REPO), 'shared', 'data', 'cifar10-jpeg.tar.gz')


def _accepts_archive(dataset: Dict) -> bool:
    """Whether a dataset config takes ``archive`` (it has one, or its registered type's
    ``__init__`` has the argument)."""
    if 'archive' in dataset:
        return True
    from mmpretrain.registry import DATASETS
    cls = DATASETS.get(str(dataset.get('type', '')))
    return cls is not None and 'archive' in inspect.signature(cls.__init__).parameters


def data_cfg_options(config: str, data_root: str, archive: Optional[str] = None) -> Dict:
    """cfg-options that point the train/val/test datasets of ``config`` at ``data_root``
    (and at ``archive``, for a dataset type that takes one).

    Args:
        config (str): A config of the comparison (its dataloaders are read).
        data_root (str): The CIFAR-10 data root.
        archive (str, optional): The archive, for datasets that extract it themselves
            (left out when None or not a file).

    Returns:
        dict: ``{'<split>_dataloader.dataset.data_root': data_root, ...}``.
    """
    cfg = Config.fromfile(config)
    options = {}
    for split in SPLITS:
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
        if not dataset:
            continue
        options[f'{split}_dataloader.dataset.data_root'] = data_root
        if archive is not None and osp.isfile(archive) and _accepts_archive(dataset):
            options[f'{split}_dataloader.dataset.archive'] = archive
    return options


def _ba2m(config: str, name: str, label: str, **options) -> Arm:
    options.setdefault('reduction', 8)
    return Arm(name, config, {f'{BA2M_CFG}.{k}': v for k, v in options.items()}, label)


# The CIFAR-10 CPU-budget ablation (issue: "Does BA2M help?"), each arm one change from
# the BA2M arm it started from: all four stages, the module's defaults, R = 8 (the value
# resnet18_ba2m_cpu_cifar10.py had when docs/results/cifar10_ablation.json was measured; the
# config now has R = 4, the ablation's best arm). sigma of the random control, per stage:
# the std of the batch weights of the R = 8 BA2M arm (= of its log-weights, for spreads this
# small), mean over training and over its seeds 0 and 1 (docs/cifar10.md).
RANDOM_SIGMA = dict(layer1=0.0217, layer2=0.0051, layer3=0.0017, layer4=0.0009)


def ablation_arms(configs: str) -> list:
    """The arms of ``cifar10-ablation``, with the configs of the folder ``configs``."""
    ba2m, plain = osp.join(configs, BA2M_CPU), osp.join(configs, PLAIN_CPU)
    return [
        Arm('plain', plain, {}, 'plain'),
        _ba2m(ba2m, 'ba2m', 'BA2M (defaults)'),
        _ba2m(ba2m, 'stats_running', 'statistics=running', statistics='running'),
        _ba2m(ba2m, 'stats_batch', 'statistics=batch', statistics='batch'),
        _ba2m(ba2m, 'no_zero_init', 'zero_init=False', zero_init=False),
        Arm('stages_24', ba2m, {
            'model.backbone.ba2m_stages': (False, True, True, True),
            f'{BA2M_CFG}.reduction': 8
        }, 'stages 2-4'),
        Arm('stages_last', ba2m, {
            'model.backbone.ba2m_stages': (False, False, False, True),
            f'{BA2M_CFG}.reduction': 8
        }, 'stage 4 only'),
        _ba2m(ba2m, 'r4', 'R=4', reduction=4),
        _ba2m(ba2m, 'softmax', 'normalize=softmax', normalize='softmax'),
        _ba2m(ba2m, 'random', 'random weights (control)', type='RandomBA2M', sigma=RANDOM_SIGMA),
    ]


# 'cifar10-full': the full recipe (200 epochs on 45,000 images), for a GPU.
# 'cifar10-testbed': plain, SE, BA2M (its config's strength) and the matched random control
# (configs/resnet18_*cifar10_testbed.py); 'cifar10-testbed-strength': the strength study
# (:mod:`.testbed`); 'cifar10-testbed-se': plain, SE and the identity-start SE.
PRESET_NAMES = ('cifar10-ablation', 'cifar10-cpu', 'cifar10-full', 'cifar10-testbed',
                'cifar10-testbed-strength', 'cifar10-testbed-se') + DET_PRESETS


def preset(name: str) -> Dict:
    """The preset ``name``: ``arms``, ``metric``, ``metrics``, ``reference`` and ``data``
    (``kind``: ``'cifar10'`` or ``'digits-testbed'``), its configs from :func:`config_dir`.

    Args:
        name (str): One of :data:`PRESET_NAMES`.

    Returns:
        dict: The preset.
    """
    if name not in PRESET_NAMES:
        raise ValueError(f'--preset must be one of {PRESET_NAMES}, got {name!r}')
    configs = config_dir()
    if name in DET_PRESETS:
        return dict(
            arms=det_testbed_arms(name, configs),
            metric=DET_METRICS[0],
            metrics=DET_METRICS,
            reference=DET_REFERENCES[name],
            data=dict(kind='digits-testbed'))
    if name == 'cifar10-cpu':
        arms = [Arm('ba2m', osp.join(configs, BA2M_CPU), {}, 'BA2M')] + ablation_arms(configs)[:1]
    elif name == 'cifar10-full':
        arms = [
            Arm('ba2m', osp.join(configs, BA2M_FULL), {}, 'BA2M'),
            Arm('plain', osp.join(configs, PLAIN_FULL), {}, 'plain')
        ]
    elif name == 'cifar10-testbed':
        arms = verdict_arms(configs=configs)
    elif name == 'cifar10-testbed-strength':
        arms = strength_study_arms(configs=configs)
    elif name == 'cifar10-testbed-se':
        arms = se_control_arms(configs=configs)
    else:
        arms = ablation_arms(configs)
    return dict(
        arms=arms,
        metric='accuracy/top1',
        metrics=('accuracy/top1', ),
        reference='plain',
        data=dict(kind='cifar10'))
