"""Keep ``configs/metafile.yml``, the model index of ``configs/``, in step with the configs.

The metafile is what ``model-index.yml`` imports; the package ships it as
``ba2m_mm/.mim/configs/ba2m/metafile.yml`` (mim and mmengine read it there). Every config
in ``configs/`` has one entry (``tests/test_model_index.py`` checks it).

Fields of an entry and where they come from:

- written once by ``--add`` (edit by hand afterwards): ``Name``, ``Config``, ``Training
  Data``, ``Baseline Config`` (the upstream config the model derives from), and, by hand
  only, ``Paper Results`` (the paper's numbers, never ours);
- rewritten from the config on every run: ``Architecture`` (model, backbone and neck
  types), ``Epochs``/``Iterations``, ``Batch Size``
  (``auto_scale_lr.base_batch_size``, the total batch the learning rate is set for);
- measured on every run unless ``--no-measure``, with ``tools/analysis/get_flops.py``'s
  functions (mmengine.analysis; 1 FLOP = 1 multiply-add): ``Parameters``, ``BA2M
  Parameters``, ``FLOPs`` (deployed: eval mode, where BA2M is the identity),
  ``BA2M Training FLOPs`` (the BA2M share of a train-mode forward, per image, batch 2) and
  ``FLOPs Input Shape`` (kept once set, so it can be edited by hand; at first get_flops'
  default, 800x1280 for detectors and 224x224 for classifiers, and 32x32 for CIFAR);
- ``Results``: only what we measured. ``--demo-results`` writes the digits demo's COCO
  metrics from ``tools/demo.py``'s ``work_dirs/demo_results.json``; every other entry
  has none (``Results: []``, ``Results Note`` says so).

Examples::

    # after a change to the model: re-measure every entry (about 50 s a detector)
    python tools/analysis/update_metafile.py
    # only some entries
    python tools/analysis/update_metafile.py --configs mask_rcnn_r50_ba2m_2x_coco.py
    # a new config: add its entry, measure it
    python tools/analysis/update_metafile.py --add configs/resnext50_ba2m_8xb32_in1k.py \\
        --baseline mmpretrain::resnext/resnext50-32x4d_8xb32_in1k.py
    # which configs have no entry, which entries no config (exit status 1 if any)
    python tools/analysis/update_metafile.py --check
    # the demo's measured results (after `make demo-compare`)
    python tools/analysis/update_metafile.py --demo-results work_dirs/demo_results.json \\
        --no-measure
"""
import argparse
import glob
import json
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import yaml
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import get_flops  # noqa: E402

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG_DIR = osp.join(REPO, 'configs')
METAFILE = osp.join(CONFIG_DIR, 'metafile.yml')
# configs/ is installed as ba2m_mm/.mim/configs/<MIM_CONFIG_FOLDER>/ (setup.py), and the
# Config paths of the metafile are those inside ba2m_mm/.mim/, as mim and mmengine read them.
MIM_CONFIG_FOLDER = 'ba2m'
COLLECTION = 'BA2M'
PAPER = {
    'Title': 'BA^2M: A Batch Aware Attention Module for Image Classification',
    'URL': 'https://arxiv.org/abs/2103.15099',
}
HEADER = """\
# Model index of configs/ (imported by model-index.yml; installed as
# ba2m_mm/.mim/configs/ba2m/metafile.yml, so Config paths are those inside ba2m_mm/.mim/).
# Maintained by tools/analysis/update_metafile.py, which rewrites the measured fields
# (Parameters, FLOPs, ...) and keeps the others; see its docstring and docs/model_zoo.md.
# Results hold only what this project measured; the paper's numbers are in Paper Results.
"""
NO_RESULTS = 'none: this config has not been trained by ba2m_mm'
# Dataset type -> Training Data, for --add.
DATASETS = {
    'CocoDataset': 'COCO',
    'VOCDataset': 'PASCAL VOC 2007+2012 trainval',
    'ImageNet': 'ImageNet-1k',
    'CIFAR100': 'CIFAR-100',
    'CIFAR10': 'CIFAR-10',
}
# Dataset type -> FLOPs input (H, W) when an entry has no FLOPs Input Shape yet; others get
# get_flops' default (800x1280 for detectors, 224x224 for classifiers).
NATIVE_SHAPES = {'CIFAR100': (32, 32), 'CIFAR10': (32, 32)}
DEMO_ARMS = {
    'ba2m': 'demo_mask_rcnn_r18_ba2m_digits',
    'plain': 'demo_mask_rcnn_r18_plain_digits',
}
DEMO_METRICS = (('Object Detection', 'box AP', 'coco/bbox_mAP'), ('Instance Segmentation',
                                                                  'mask AP', 'coco/segm_mAP'))


def config_path(name: str) -> str:
    """``Config`` field of ``configs/<name>.py``: its path inside ``ba2m_mm/.mim``."""
    return f'configs/{MIM_CONFIG_FOLDER}/{name}.py'


def repo_config(entry: Dict) -> str:
    """Path in this repository of the config an entry points to."""
    prefix = f'configs/{MIM_CONFIG_FOLDER}/'
    config = entry.get('Config', '')
    if not config.startswith(prefix):
        raise ValueError(f'{entry.get("Name")}: Config must start with {prefix!r}, '
                         f'got {config!r}')
    return osp.join(CONFIG_DIR, config[len(prefix):])


def load_metafile(path: str = METAFILE) -> Dict:
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def dump_metafile(meta: Dict, path: str = METAFILE) -> None:
    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(HEADER + text)


def new_metafile() -> Dict:
    return {
        'Collections': [{
            'Name': COLLECTION,
            'Paper': dict(PAPER),
        }],
        'Models': [],
    }


def all_configs() -> List[str]:
    """Names (without .py) of the configs in ``configs/``."""
    return sorted(osp.splitext(osp.basename(p))[0] for p in glob.glob(osp.join(CONFIG_DIR, '*.py')))


def check(meta: Dict) -> List[str]:
    """Mismatches between ``configs/`` and the metafile (empty when in step)."""
    problems = []
    names = [m['Name'] for m in meta['Models']]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f'entry {name!r} appears more than once')
    for name in sorted(set(all_configs()) - set(names)):
        problems.append(f'configs/{name}.py has no entry: run tools/analysis/'
                        f'update_metafile.py --add configs/{name}.py --baseline PKG::CONFIG')
    for entry in meta['Models']:
        try:
            path = repo_config(entry)
        except ValueError as e:
            problems.append(str(e))
            continue
        if not osp.exists(path):
            problems.append(f'entry {entry["Name"]!r} points to {entry["Config"]}, but '
                            f'{osp.relpath(path, REPO)} does not exist')
        elif osp.splitext(osp.basename(path))[0] != entry['Name']:
            problems.append(f'entry {entry["Name"]!r} points to {entry["Config"]}: '
                            'Name must be the config file name without .py')
    return problems


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
    """Parameters and FLOPs fields, measured with get_flops' functions at ``shape``
    (H, W); get_flops' default shape (800x1280 detectors, 224x224 classifiers) if None."""
    model = get_flops.build_model(cfg)
    result = get_flops.complexity(model, shape, train_batch=2)
    h, w = result['shape']
    return {
        'Parameters': int(result['params']),
        'BA2M Parameters': int(result['ba2m_params']),
        'FLOPs': int(round(result['eval']['flops'])),
        'BA2M Training FLOPs': int(round(result['train']['ba2m_flops'])),
        'FLOPs Input Shape': f'(3, {h}, {w})',
    }


def make_entry(name: str, baseline: str, data: str) -> Dict:
    return {
        'Name': name,
        'In Collection': COLLECTION,
        'Config': config_path(name),
        'Paper': dict(PAPER),
        'Metadata': {
            'Training Data': data,
            'Baseline Config': baseline
        },
        'Results': [],
        'Results Note': NO_RESULTS,
    }


METADATA_ORDER = ('Training Data', 'Baseline Config', 'Architecture', 'Epochs', 'Iterations',
                  'Batch Size', 'Parameters', 'BA2M Parameters', 'FLOPs', 'BA2M Training FLOPs',
                  'FLOPs Input Shape')
ENTRY_ORDER = ('Name', 'In Collection', 'Config', 'Paper', 'Metadata', 'Results', 'Results Note',
               'Paper Results')


def ordered(d: Dict, order: Sequence[str]) -> Dict:
    """``d`` with the keys of ``order`` first, in that order, then the others."""
    out = {k: d[k] for k in order if k in d}
    out.update({k: v for k, v in d.items() if k not in out})
    return out


def update_entry(entry: Dict, do_measure: bool) -> Dict:
    cfg = Config.fromfile(repo_config(entry))
    metadata = dict(entry.get('Metadata') or {})
    metadata.pop('Epochs', None)
    metadata.pop('Iterations', None)
    metadata['Architecture'] = architecture(cfg)
    metadata.update(schedule(cfg))
    if do_measure:
        # A FLOPs Input Shape already in the entry (e.g. edited by hand) is kept.
        shape = parse_shape(metadata.get('FLOPs Input Shape'))
        if shape is None:
            shape = NATIVE_SHAPES.get(dataset_of(cfg).get('type'))
        metadata.update(measure(cfg, shape))
    entry = dict(entry)
    entry['Paper'] = dict(PAPER)
    entry['Metadata'] = ordered(metadata, METADATA_ORDER)
    entry.setdefault('Results', [])
    if not entry['Results']:
        entry['Results Note'] = NO_RESULTS
    elif entry.get('Results Note') == NO_RESULTS:
        del entry['Results Note']
    return ordered(entry, ENTRY_ORDER)


def demo_results(path: str) -> Dict[str, Dict]:
    """Results and a note per demo entry, from ``tools/demo.py``'s JSON output."""
    with open(path, encoding='utf-8') as f:
        run = json.load(f)
    out = {}
    for result in run['results']:
        name = DEMO_ARMS.get(result['arm'])
        if name is None:  # e.g. 'ba2m_softmax', a --cfg-options variant of a config
            continue
        results = []
        for task, metric, key in DEMO_METRICS:
            if key in result['metrics']:
                results.append({
                    'Task': task,
                    'Dataset': f'digits_demo val ({run["data"]["val"]} images)',
                    'Metrics': {
                        metric: round(100 * result['metrics'][key], 1)
                    },
                })
        note = (f'measured by tools/demo.py: one run, {result["iters"]} iterations, '
                f'{run["data"]["train"]} training images, CPU with {run["threads"]} threads; '
                'no weights published')
        out[name] = dict(results=results, note=note)
    if not out:
        raise ValueError(f'{path}: no result of the arms {sorted(DEMO_ARMS)}')
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Update configs/metafile.yml (model index of configs/) from the configs.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--configs',
        nargs='+',
        help='update only these entries (config file names or paths). Default: all')
    parser.add_argument(
        '--add',
        nargs='+',
        metavar='CONFIG',
        help='add an entry for these configs (paths or names in configs/), then update them')
    parser.add_argument(
        '--baseline',
        nargs='+',
        help='with --add: the upstream config each added config derives from, e.g. '
        'mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py (one per --add config)')
    parser.add_argument(
        '--training-data',
        nargs='+',
        help='with --add: Training Data of each added config. Default: from its dataset type')
    parser.add_argument(
        '--no-measure',
        action='store_true',
        help='do not measure parameters/FLOPs (keep the values in the metafile)')
    parser.add_argument(
        '--demo-results',
        metavar='JSON',
        help="write the demo entries' Results from tools/demo.py's demo_results.json")
    parser.add_argument(
        '--check',
        action='store_true',
        help='only report configs without an entry and entries without a config')
    parser.add_argument('--metafile', default=METAFILE, help='Default: configs/metafile.yml')
    args = parser.parse_args(argv)
    if args.add:
        if not args.baseline or len(args.baseline) != len(args.add):
            parser.error(f'--add needs one --baseline per config: got {len(args.add)} '
                         f'config(s) and --baseline {args.baseline}')
        if args.training_data and len(args.training_data) != len(args.add):
            parser.error(f'--training-data needs one value per --add config, got '
                         f'{args.training_data}')
    elif args.baseline or args.training_data:
        parser.error('--baseline and --training-data go with --add')
    return args


def config_name(path_or_name: str) -> str:
    name = osp.splitext(osp.basename(path_or_name))[0]
    if not osp.exists(osp.join(CONFIG_DIR, f'{name}.py')):
        raise FileNotFoundError(f'config {path_or_name!r} is not in {CONFIG_DIR}')
    return name


def main(argv=None) -> int:
    args = parse_args(argv)
    meta = load_metafile(args.metafile) if osp.exists(args.metafile) else new_metafile()
    if args.check:
        problems = check(meta)
        for problem in problems:
            print(problem)
        print(f'{len(meta["Models"])} entries, {len(all_configs())} configs, '
              f'{len(problems)} problem(s)')
        return 1 if problems else 0

    entries = {m['Name']: m for m in meta['Models']}
    todo: Optional[List[str]] = None
    if args.configs:
        todo = [config_name(c) for c in args.configs]
        missing = [n for n in todo if n not in entries]
        if missing:
            raise KeyError(f'no entry for {missing}: add them with --add')
    if args.add:
        added = []
        for i, path in enumerate(args.add):
            name = config_name(path)
            if name in entries:
                raise ValueError(f'{name} already has an entry; edit it in {args.metafile}')
            cfg = Config.fromfile(osp.join(CONFIG_DIR, f'{name}.py'))
            data = args.training_data[i] if args.training_data else training_data(cfg, name)
            entries[name] = make_entry(name, args.baseline[i], data)
            added.append(name)
        todo = (todo or []) + added
    if todo is None:
        todo = list(entries)
    if args.demo_results:
        for name, demo in demo_results(args.demo_results).items():
            if name not in entries:
                raise KeyError(f'no entry for the demo config {name}')
            entries[name]['Results'] = demo['results']
            entries[name]['Results Note'] = demo['note']

    start = time.time()
    for i, name in enumerate(todo, 1):
        t = time.time()
        entries[name] = update_entry(entries[name], do_measure=not args.no_measure)
        md = entries[name]['Metadata']
        measured = (f'{md["Parameters"] / 1e6:.2f} M params, {md["FLOPs"] / 1e9:.2f} GFLOPs'
                    if 'Parameters' in md else 'not measured')
        print(f'[{i}/{len(todo)}] {name}: {measured} ({time.time() - t:.0f} s)', flush=True)
    meta['Models'] = [entries[n] for n in sorted(entries)]
    dump_metafile(meta, args.metafile)
    problems = check(meta)
    print(f'wrote {args.metafile}: {len(meta["Models"])} entries, {len(todo)} updated in '
          f'{time.time() - start:.0f} s; {len(problems)} problem(s)')
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
