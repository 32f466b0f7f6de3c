"""The fields of a model-index entry that come from its config: training data,
architecture, schedule, and the measured parameters and FLOPs."""
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

from .flops import build_model, complexity

# Dataset type -> Training Data, for --add.
DATASETS = {
    'CocoDataset': 'COCO',
    'VOCDataset': 'PASCAL VOC 2007+2012 trainval',
    'ImageNet': 'ImageNet-1k',
    'CIFAR100': 'CIFAR-100',
    'CIFAR10': 'CIFAR-10',
    'CIFAR10Decoded': 'CIFAR-10',
}

# Dataset type -> FLOPs input (H, W) when an entry has no FLOPs Input Shape yet; others get
# the default of ba2m_mm.analysis.flops (800x1280 for detectors, 224x224 for classifiers).
NATIVE_SHAPES = {'CIFAR100': (32, 32), 'CIFAR10': (32, 32), 'CIFAR10Decoded': (32, 32)}


def dataset_of(cfg: Config) -> Dict:
    """The innermost dataset dict of the train dataloader (through Repeat/Concat)."""
    dataset = cfg.train_dataloader.dataset
    while 'dataset' in dataset or 'datasets' in dataset:
        dataset = dataset['dataset'] if 'dataset' in dataset else dataset['datasets'][0]
    return dataset


def training_data(cfg: Config, name: str) -> str:
    """Training Data of a config from its dataset type, for --add."""
    dataset = dataset_of(cfg)
    data = DATASETS.get(dataset.get('type'))
    if data == 'COCO' and 'coco' not in str(dataset.get('data_root', '')).lower():
        data = None  # a custom set in COCO format
    if data is None:
        raise ValueError(f'{name}: cannot name the training data of dataset type '
                         f'{dataset.get("type")!r} (data_root {dataset.get("data_root")!r}); '
                         'pass --training-data')
    return data


def architecture(cfg: Config) -> List[str]:
    """Registered types of the model, its backbone and neck, e.g. ``['MaskRCNN',
    'BA2MResNet', 'FPN']`` (a plain ResNet twin has no BA2M in it)."""
    parts = [cfg.model.type, cfg.model.backbone.type]
    neck = cfg.model.get('neck')
    if isinstance(neck, dict) and neck.get('type'):
        parts.append(neck.type)
    return parts


def schedule(cfg: Config) -> Dict:
    """Epochs or Iterations, and Batch Size, of a config."""
    out = {}
    train_cfg = cfg.get('train_cfg', {}) or {}
    if train_cfg.get('max_epochs'):
        out['Epochs'] = int(train_cfg['max_epochs'])
    elif train_cfg.get('max_iters'):
        out['Iterations'] = int(train_cfg['max_iters'])
    base_batch = (cfg.get('auto_scale_lr', {}) or {}).get('base_batch_size')
    if base_batch:
        out['Batch Size'] = int(base_batch)
    return out


def parse_shape(text: Optional[str]) -> Optional[Tuple[int, int]]:
    """(H, W) of a ``FLOPs Input Shape`` field such as ``'(3, 800, 1280)'``."""
    if not text:
        return None
    dims = [int(d) for d in str(text).strip('()[] ').split(',')]
    if len(dims) != 3 or dims[0] != 3:
        raise ValueError(f'FLOPs Input Shape must read (3, H, W), got {text!r}')
    return dims[1], dims[2]


def measure(cfg: Config, shape: Optional[Tuple[int, int]] = None) -> Dict:
    """Parameters and FLOPs fields of a config's model.

    Args:
        cfg (Config): The config.
        shape (tuple[int, int], optional): Input (H, W). Defaults to None:
            the default of :func:`~ba2m_mm.analysis.flops.complexity` (800x1280
            for detectors, 224x224 for classifiers).

    Returns:
        dict: The measured metadata fields.
    """
    model = build_model(cfg)
    result = complexity(model, shape, train_batch=2)
    h, w = result['shape']
    return {
        'Parameters': int(result['params']),
        'BA2M Parameters': int(result['ba2m_params']),
        'FLOPs': int(round(result['eval']['flops'])),
        'BA2M Training FLOPs': int(round(result['train']['ba2m_flops'])),
        'FLOPs Input Shape': f'(3, {h}, {w})',
    }
