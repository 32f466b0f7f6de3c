"""The wheel works without the source tree, as OpenMMLab packages do.

``pip wheel --no-deps`` (offline here: ``--no-build-isolation --no-index``) on a copy of the
source tree; the wheel carries ``ba2m_mm/.mim/{configs/ba2m,tools,model-index.yml}``;
installed with ``pip install --target`` into a temporary folder, it serves
``_base_ = 'ba2m_mm::ba2m/mask_rcnn_r50_ba2m_2x_coco.py'`` to a config of another project,
loaded and built in a process whose only ``ba2m_mm`` is the installed one.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(REPO, 'configs', '*.py')))
MIM = 'ba2m_mm/.mim/'
# Not part of a source checkout that setup.py needs (environments, outputs, caches).
SKIP_TOP = {'.git', '.venv', 'data', 'work_dirs', 'build', 'dist', '.pytest_cache'}
SKIP_ANY = shutil.ignore_patterns('__pycache__', '*.pyc', '*.egg-info', '.mim')

# Run in a fresh interpreter: `-P` keeps the working directory off sys.path, PYTHONPATH puts
# the install target first, and the source tree is on neither.
CHILD = r"""
import json, os, sys
site, child, *others = sys.argv[1:]
holders = [p for p in sys.path if os.path.isdir(os.path.join(p or '.', 'ba2m_mm'))]
import ba2m_mm
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import get_installed_path
cfg = Config.fromfile(child)
init_default_scope(cfg.default_scope)
from mmdet.registry import MODELS
model = MODELS.build(cfg.model)
backbone = type(model.backbone)


def ba2m_mm_scoped(tree, path=''):
    # mmengine tags the typed dicts a 'pkg::' base defines itself with _scope_='pkg'.
    if isinstance(tree, dict):
        found = [path] if tree.get('_scope_') == 'ba2m_mm' else []
        return found + [p for k, v in tree.items() for p in ba2m_mm_scoped(v, f'{path}.{k}')]
    if isinstance(tree, (list, tuple)):
        return [p for i, v in enumerate(tree) for p in ba2m_mm_scoped(v, f'{path}[{i}]')]
    return []


scoped = {}
for name in others:
    with open(f'inherit_{name}', 'w') as f:
        f.write(f"_base_ = 'ba2m_mm::ba2m/{name}'\n")
    scoped[name] = ba2m_mm_scoped(Config.fromfile(f'inherit_{name}').to_dict())
print(json.dumps(dict(scoped=scoped,
    sys_path_0=sys.path[0], holders=holders, ba2m_mm=ba2m_mm.__file__,
    installed=get_installed_path('ba2m_mm'),
    backbone=backbone.__name__, backbone_file=sys.modules[backbone.__module__].__file__,
    num_classes=model.roi_head.bbox_head.num_classes,
    mask_num_classes=model.roi_head.mask_head.num_classes,
    ba2m_stages=list(cfg.model.backbone.ba2m_stages))))
"""


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout


def copy_source(dst):

    def ignore(folder, names):
        skipped = set(SKIP_ANY(folder, names))
        if osp.samefile(folder, REPO):
            skipped |= SKIP_TOP & set(names)
        return skipped

    shutil.copytree(REPO, dst, ignore=ignore, symlinks=True)


@pytest.fixture(scope='module')
def package(tmp_path_factory):
    """A wheel and an sdist built from a copy of the source tree (the checkout's own
    ba2m_mm/.mim, if any, is left alone), and the wheel installed into a target folder."""
    root = tmp_path_factory.mktemp('packaging')
    src, dist, site = root / 'src', root / 'dist', root / 'site'
    copy_source(src)
    # Byte code a checkout collects (tests import tools; an earlier build leaves build/lib,
    # which setuptools reuses): none of it may reach the wheel (issue 20).
    for folder in ('tools/__pycache__', 'tools/analysis/__pycache__',
                   'build/lib/ba2m_mm/__pycache__', 'build/lib/ba2m_mm/.mim/tools/__pycache__'):
        os.makedirs(src / folder)
        (src / folder / 'stale.cpython-311.pyc').write_bytes(b'')
    pip = [sys.executable, '-m', 'pip']
    run(pip +
        ['wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q', '-w',
         str(dist), '.'],
        cwd=src)
    run([sys.executable, 'setup.py', '-q', 'sdist', '-d', str(dist)], cwd=src)
    (wheel, ) = glob.glob(str(dist / '*.whl'))
    (sdist, ) = glob.glob(str(dist / '*.tar.gz'))
    run(pip + ['install', '--no-deps', '--no-index', '-q', '--target', str(site), wheel])
    return dict(root=root, wheel=wheel, sdist=sdist, site=str(site))


def test_wheel_carries_configs_tools_and_model_index(package):
    with zipfile.ZipFile(package['wheel']) as whl:
        names = whl.namelist()
    mim = {n[len(MIM):] for n in names if n.startswith(MIM)}
    assert 'model-index.yml' in mim
    assert 'configs/ba2m/metafile.yml' in mim
    assert {f'configs/ba2m/{c}' for c in CONFIGS} <= mim
    assert {
        'tools/train.py', 'tools/test.py', 'tools/dist_train.sh', 'tools/dist_test.sh',
        'tools/analysis/get_flops.py', 'tools/analysis/update_metafile.py'
    } <= mim
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]
    # Only the package: no top-level configs/, tools/ or tests/.
    assert {n.split('/')[0] for n in names if '.dist-info/' not in n} == {'ba2m_mm'}


def test_sdist_carries_the_mim_files(package):
    with tarfile.open(package['sdist']) as tar:
        names = tar.getnames()
    top = names[0].split('/')[0]
    mim = {n[len(f'{top}/{MIM}'):] for n in names if n.startswith(f'{top}/{MIM}')}
    assert 'model-index.yml' in mim
    assert {f'configs/ba2m/{c}' for c in CONFIGS} | {'configs/ba2m/metafile.yml'} <= mim
    assert 'tools/train.py' in mim
    # mim's remote search takes the first model-index.yml it finds in the sdist: only the
    # one whose Import resolves (ba2m_mm/.mim/) is there.
    assert [n for n in names if n.endswith('model-index.yml')] == [f'{top}/{MIM}model-index.yml']


def test_installed_model_index_loads_and_points_to_installed_configs(package):
    from modelindex.load_model_index import load
    mim = osp.join(package['site'], 'ba2m_mm', '.mim')
    index = load(osp.join(mim, 'model-index.yml'))
    errors = [e for item in index.collect_check_errors() for e in item['errors']]
    assert errors == []
    models = list(index.models)
    assert len(models) == len(CONFIGS)
    for model in models:
        assert osp.isfile(osp.join(mim, model.config)), model.config


def test_another_project_inherits_ba2m_mm_configs_from_the_installed_wheel(package, tmp_path):
    project = tmp_path / 'my_project'
    project.mkdir()
    child = project / 'my_mask_rcnn.py'
    child.write_text("_base_ = 'ba2m_mm::ba2m/mask_rcnn_r50_ba2m_2x_coco.py'\n"
                     'model = dict(roi_head=dict(bbox_head=dict(num_classes=3)))\n')
    site = package['site']
    env = dict(os.environ, PYTHONPATH=site)
    models = [c for c in CONFIGS if not c.startswith('demo_')]
    out = run([sys.executable, '-P', '-c', CHILD, site, str(child)] + models, cwd=project, env=env)
    info = json.loads(out.strip().splitlines()[-1])
    assert info['sys_path_0'] == site
    assert info['holders'] == [site]  # no other ba2m_mm (e.g. the source tree) on sys.path
    for key in ('ba2m_mm', 'installed', 'backbone_file'):
        assert info[key].startswith(site + os.sep), (key, info[key])
    assert info['backbone'] == 'BA2MResNet'
    assert info['num_classes'] == 3  # the changed field
    assert info['mask_num_classes'] == 80  # inherited unchanged
    assert info['ba2m_stages'] == [False, True, True, True]
    # Every model config inherits cleanly: it adds no typed dict of its own at the top level,
    # which mmengine would tag _scope_='ba2m_mm' (a scope without a registry: mmengine
    # warns and falls back to the registry in use). The demo configs and the CIFAR-10 JPEG
    # testbed configs do add some (their pipelines, datasets and schedulers) and are not
    # checked here.
    assert info['scoped'] == {
        name: []
        for name in models if 'cifar10' not in name
    } | {
        name: info['scoped'][name]
        for name in models if 'cifar10' in name
    }


def test_compare_from_the_installed_wheel_takes_mim_configs_and_asks_for_the_archive(
        package, tmp_path):
    """Issue 26: the comparison tool of the wheel (``.mim/tools/compare.py``) finds its
    preset configs in ``.mim`` and, with no repository beside it, asks for ``--archive``
    instead of looking for one beside site-packages."""
    site = package['site']
    env = dict(os.environ, PYTHONPATH=site)
    code = ("from ba2m_mm.compare.presets import preset; "
            "print(*[a.config for a in preset('cifar10-cpu')['arms']])")
    out = run([sys.executable, '-P', '-c', code], cwd=tmp_path, env=env)
    mim_configs = osp.join(site, 'ba2m_mm', '.mim', 'configs', 'ba2m')
    assert out.split() == [
        osp.join(mim_configs, 'resnet18_ba2m_cpu_cifar10.py'),
        osp.join(mim_configs, 'resnet18_cpu_cifar10.py')
    ]
    tool = osp.join(site, 'ba2m_mm', '.mim', 'tools', 'compare.py')
    proc = subprocess.run([sys.executable, '-P', tool, '--preset', 'cifar10-cpu'],
                          cwd=tmp_path,
                          env=env,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert ("--archive: no CIFAR-10 JPEG images at --data-root 'data/cifar10' and no archive "
            'to extract') in proc.stderr


@pytest.mark.skipif(
    importlib.util.find_spec('mim') is None,
    reason='openmim is not installed (requirements/mim.txt says how)')
def test_mim_search_and_train_with_the_installed_wheel(package, tmp_path):
    """``mim search ba2m_mm`` and ``mim train ba2m_mm CONFIG`` on the installed package.
    (mim 0.3.9 looks for ``<site-packages>/ba2m_mm/.mim``: it does not see an editable
    install, whose files stay in the checkout.)"""
    from test_launchers import NUM_TRAIN, build_digits, ckpt_iter, tiny_config
    site = package['site']
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([site, os.environ.get('PYTHONPATH', '')]))
    mim = [sys.executable, '-W', 'ignore', '-c', 'import sys; from mim.cli import cli; cli()']
    out = run(mim + ['search', 'ba2m_mm', '--valid-config'], cwd=tmp_path, env=env)
    assert 'mask_rcnn_r50_ba2m_2x_coco' in out and 'demo_mask_rcnn_r18_ba2m_digits' in out
    cfg = tiny_config(
        tmp_path, build_digits(tmp_path / 'digits'), custom_imports=False, probe=False)
    work = tmp_path / 'work'
    out = run(mim + ['train', 'ba2m_mm', cfg, '--work-dir', str(work)], cwd=tmp_path, env=env)
    assert f'{site}/ba2m_mm/.mim/tools/train.py' in out  # mim's "Training command is ..."
    assert ckpt_iter(work / 'epoch_1.pth') == NUM_TRAIN // 2
