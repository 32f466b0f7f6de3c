"""The model index: ``model-index.yml`` imports ``configs/metafile.yml``, which has one entry
per config in ``configs/`` (demo configs included), with the paper, the training data, the
upstream baseline config, and parameters/FLOPs measured by
``tools/analysis/update_metafile.py`` (``ba2m_mm.analysis.model_index``). Results are only what
we measured.
"""
import importlib.util
import json
import os.path as osp

import pytest
import yaml
from mmengine.analysis import parameter_count
from mmengine.config import Config
from mmengine.config.utils import _get_package_and_cfg_path
from mmengine.utils import get_installed_path

from ba2m_mm.analysis import flops, model_index, model_index_fields

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))

META = model_index.load_metafile()
ENTRIES = {m['Name']: m for m in META['Models']}
CONFIGS = model_index.all_configs()
UPDATE = 'python tools/analysis/update_metafile.py'


def load_setup_module():
    """setup.py as a module (its setup() call is under ``if __name__ == '__main__'``)."""
    spec = importlib.util.spec_from_file_location('ba2m_mm_setup', osp.join(REPO, 'setup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_config_has_an_entry_and_every_entry_a_config():
    assert model_index.check(META) == []
    assert sorted(ENTRIES) == CONFIGS
    assert len(META['Models']) == len(ENTRIES), 'duplicate entries'


def test_check_reports_a_missing_entry_and_a_dangling_one():
    meta = {'Models': [dict(m) for m in META['Models']]}
    removed = meta['Models'].pop(0)
    meta['Models'].append(dict(removed, Name='gone', Config='configs/ba2m/gone.py'))
    problems = model_index.check(meta)
    assert any(f'configs/{removed["Name"]}.py has no entry' in p for p in problems)
    assert any("entry 'gone' points to configs/ba2m/gone.py" in p for p in problems)


def test_model_index_imports_the_metafile_at_its_installed_path():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    folder = model_index.MIM_CONFIG_FOLDER
    assert index == {'Import': [f'configs/{folder}/metafile.yml']}
    setup = load_setup_module()
    assert setup.MIM_CONFIG_FOLDER == folder
    assert setup.MIM_FILES == {
        'configs': f'configs/{folder}',
        'tools': 'tools',
        'model-index.yml': 'model-index.yml'
    }


def test_collection_names_the_paper():
    (collection, ) = META['Collections']
    assert collection['Name'] == 'BA2M'
    assert collection['Paper'] == {
        'Title': 'BA^2M: A Batch Aware Attention Module for Image Classification',
        'URL': 'https://arxiv.org/abs/2103.15099',
    }


@pytest.mark.parametrize('name', CONFIGS)
def test_entry(name):
    entry = ENTRIES[name]
    assert entry['Config'] == f'configs/{model_index.MIM_CONFIG_FOLDER}/{name}.py'
    assert entry['In Collection'] == 'BA2M'
    assert entry['Paper'] == META['Collections'][0]['Paper']
    metadata = entry['Metadata']
    assert isinstance(metadata['Training Data'], str) and metadata['Training Data']
    # The baseline is an upstream config that exists in the installed library.
    package, path = _get_package_and_cfg_path(metadata['Baseline Config'])
    assert osp.isfile(osp.join(get_installed_path(package), '.mim', 'configs', path))
    for key in ('Parameters', 'BA2M Parameters', 'FLOPs', 'BA2M Training FLOPs'):
        assert isinstance(metadata[key], int) and metadata[key] >= 0, (key, metadata.get(key))
    assert metadata['FLOPs'] > 0
    model_index_fields.parse_shape(metadata['FLOPs Input Shape'])  # raises on a bad value
    cfg = Config.fromfile(osp.join(REPO, 'configs', f'{name}.py'))
    added = cfg.model.backbone.get('ba2m_cfg', {}).get('type')  # SE: no BA2M at all
    is_ba2m = cfg.model.backbone.type.startswith('BA2M') and added != 'SqueezeExcitation'
    assert (metadata['BA2M Parameters'] > 0) == is_ba2m
    # the random control builds BA2M's branches but runs none; SE is no BA2M
    runs_branches = is_ba2m and cfg.model.backbone.ba2m_cfg.get('type') not in ('RandomBA2M',
                                                                                'SqueezeExcitation')
    assert (metadata['BA2M Training FLOPs'] > 0) == runs_branches
    # Results: only measured ones; otherwise an explicit "none". The paper's numbers live
    # in their own field.
    if entry['Results']:
        for result in entry['Results']:
            assert set(result) == {'Task', 'Dataset', 'Metrics'}
        assert 'measured by' in entry['Results Note']
    else:
        assert entry['Results Note'] == model_index.NO_RESULTS
    if 'Paper Results' in entry:
        assert entry['Paper Results']['Note'].startswith('reported by the paper')


def test_baselines_agree_with_test_configs():
    """The Baseline Config of each entry is the upstream config that tests/test_configs.py
    checks the config's delta against."""
    from test_configs import UPSTREAM
    for name, upstream in UPSTREAM.items():
        assert ENTRIES[name[:-len('.py')]]['Metadata']['Baseline Config'] == upstream, name


def test_results_are_those_of_the_committed_reports():
    """Each entry's Results are what the committed reports give for it (the README's "ours"
    column, ``ZOO``), and no entry has Results without a report: the demo's 51.0 / 48.9
    matched no run."""
    expected = {m['Name']: json.loads(json.dumps(m)) for m in META['Models']}
    model_index.apply_report_results(expected, REPO)
    for name, entry in ENTRIES.items():
        assert (entry['Results'], entry['Results Note']) == (
            expected[name]['Results'], expected[name]['Results Note']), (
                f'configs/metafile.yml: Results of {name} differ from the reports; run '
                f'{UPDATE} --no-measure')
    demo = ENTRIES['demo_mask_rcnn_r18_ba2m_digits']['Results']
    report = json.load(open(osp.join(REPO, 'docs', 'results', 'digits_make_demo.json')))
    assert demo[0]['Metrics']['box AP'] == round(
        100 * report['summary'][0]['metrics']['coco/bbox_mAP']['mean'], 2)


@pytest.mark.parametrize('name', CONFIGS)
def test_parameters_are_current(name):
    """The metafile's parameter counts are those of the model the config builds now; after
    a change to BA2M, regenerate them (the message names the command)."""
    model = flops.build_model(Config.fromfile(osp.join(REPO, 'configs', f'{name}.py')))
    params, ba2m_params = flops.count_params(model)
    assert params == parameter_count(model)['']
    metadata = ENTRIES[name]['Metadata']
    assert (metadata['Parameters'], metadata['BA2M Parameters']) == (params, ba2m_params), (
        f'configs/metafile.yml is stale for {name}: it says {metadata["Parameters"]} '
        f'parameters ({metadata["BA2M Parameters"]} in BA2M), the config builds {params} '
        f'({ba2m_params}). Regenerate: {UPDATE} --configs {name}.py (or {UPDATE} for all)')
