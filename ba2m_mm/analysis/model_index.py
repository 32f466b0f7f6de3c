"""The model index of ``configs/``: ``configs/metafile.yml``, which
``model-index.yml`` imports; the package ships it as
``ba2m_mm/.mim/configs/ba2m/metafile.yml`` (mim and mmengine read it there).

Fields of an entry and where they come from: ``Name``, ``Config``, ``Training
Data``, ``Baseline Config`` are written once (:func:`make_entry`);
``Architecture``, ``Epochs``/``Iterations`` and ``Batch Size`` are rewritten
from the config (:func:`update_entry`); ``Parameters``, ``BA2M Parameters``,
``FLOPs``, ``BA2M Training FLOPs`` and ``FLOPs Input Shape`` are measured
(:func:`measure`); ``Results`` hold only what this project measured: the committed reports
named by :data:`ba2m_mm.compare.doc_claims.ZOO` (:func:`report_results`), the same figures
as the README's model zoo.
"""
import glob
import os.path as osp
from typing import Dict, List, Optional, Sequence

import yaml
from mmengine.config import Config

from .model_index_fields import (NATIVE_SHAPES, architecture, dataset_of, measure, parse_shape,
                                 schedule, training_data)
from .paths import CONFIG_DIR, REPO

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

# Metric of a comparison report -> (Task, metric name) of a Results entry.
RESULT_METRICS = {
    'accuracy/top1': ('Image Classification', 'Top 1 Accuracy'),
    'coco/bbox_mAP': ('Object Detection', 'box AP'),
    'coco/segm_mAP': ('Instance Segmentation', 'mask AP'),
    'pascal_voc/mAP': ('Object Detection', 'mAP'),
}


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


def report_results(root: str = REPO) -> Dict[str, Dict]:
    """Results and a note per entry of :data:`ba2m_mm.compare.doc_claims.ZOO` that was
    measured: the mean over the seeds of its arm in the committed report."""
    from ba2m_mm.compare.doc_claims import ZOO, dates_text, measured
    out = {}
    for name, m in ZOO:
        if m is None:
            continue
        r = measured(root, m)
        results = []
        for metric, stats in [(r['metric'], r['stats'])] + list(r['extra'].items()):
            task, field = RESULT_METRICS.get(metric, ('Other', metric))
            results.append({
                'Task': task,
                'Dataset': r['evaluate'],
                'Metrics': {
                    field: round(stats['mean'], 2)
                },
            })
        group = f', {m.group} {r["group_name"]}' if m.group is not None else ''
        note = (f'measured by ba2m_mm on CPU: mean of {r["stats"]["n"]} seed(s){group}, '
                f'runs of {dates_text(r["stamps"])}, {m.report}; no weights published')
        out[name] = dict(results=results, note=note)
    return out


def apply_report_results(entries: Dict[str, Dict], root: str = REPO) -> None:
    """Write every entry's Results from the committed reports (:func:`report_results`):
    the measured entries get theirs, every other entry none (in place)."""
    measured = report_results(root)
    unknown = sorted(set(measured) - set(entries))
    if unknown:
        raise KeyError(f'no metafile entry for the measured configs {unknown}')
    for name, entry in entries.items():
        if name in measured:
            data = (entry.get('Metadata') or {}).get('Training Data', '').split(' (')[0]
            entry['Results'] = [
                dict(r, Dataset=f'{data} {r["Dataset"]}'.strip()) for r in measured[name]['results']
            ]
            entry['Results Note'] = measured[name]['note']
        else:
            entry['Results'] = []
            entry['Results Note'] = NO_RESULTS


def config_name(path_or_name: str) -> str:
    name = osp.splitext(osp.basename(path_or_name))[0]
    if not osp.exists(osp.join(CONFIG_DIR, f'{name}.py')):
        raise FileNotFoundError(f'config {path_or_name!r} is not in {CONFIG_DIR}')
    return name


def add_entries(entries: Dict[str, Dict],
                paths: Sequence[str],
                baselines: Sequence[str],
                data: Optional[Sequence[str]] = None,
                metafile: str = METAFILE) -> List[str]:
    """Add a new entry for each config to ``entries`` (in place).

    Args:
        entries (dict): ``{Name: entry}`` of the metafile.
        paths (Sequence[str]): Config paths or names in ``configs/``.
        baselines (Sequence[str]): The upstream config each derives from,
            e.g. ``mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py``.
        data (Sequence[str], optional): Training Data of each; None: from
            each config's dataset type (:func:`training_data`).
        metafile (str): The metafile's path, named in errors.

    Returns:
        list[str]: The names added.
    """
    added = []
    for i, path in enumerate(paths):
        name = config_name(path)
        if name in entries:
            raise ValueError(f'{name} already has an entry; edit it in {metafile}')
        cfg = Config.fromfile(osp.join(CONFIG_DIR, f'{name}.py'))
        entries[name] = make_entry(name, baselines[i],
                                   data[i] if data else training_data(cfg, name))
        added.append(name)
    return added
