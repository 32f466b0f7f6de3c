"""Safe checkpoint loading: no path runs code from a checkpoint, errors name the file.

A malicious checkpoint whose pickle runs ``touch MARKER`` is fed to every path that loads a
checkpoint: pretrained backbones (``init_cfg``), ``mmengine.runner.load_checkpoint``
(local, ``https://``, ``torchvision://``), ``tools/test.py``, ``tools/train.py`` with
``--resume`` and with ``load_from``, ``tools/deploy/strip_ba2m.py``,
``tools/publish_model.py`` and ``tools/analysis/tsne.py``. The project's own checkpoints
round-trip through train, resume, test, strip and publish with the safe loader on.
"""
import collections
import importlib.util
import os
import os.path as osp
import pickle
import runpy
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

import ba2m_mm
from ba2m_mm.checkpoint import (UNSAFE_LOAD_ENV, InvalidCheckpointError, UnsafeCheckpointError,
                                load_checkpoint_file, refused_globals)
from ba2m_mm.checkpoint.mmengine_schemes import (UnsupportedCheckpointSource, load_from_http_safely,
                                                 load_from_local_safely,
                                                 load_from_torchvision_safely)

ba2m_mm.setup_runtime()  # registers the safe loaders in mmengine, as every tool does

_HERE = osp.dirname(osp.abspath(__file__))


def _load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers = _load_module('ba2m_launch_helpers_ckpt', osp.join(_HERE, 'test_launchers.py'))
strip_tool = _load_module('strip_ba2m_ckpt', osp.join(helpers.REPO, 'tools/deploy/strip_ba2m.py'))
publish_tool = _load_module('publish_model_ckpt', osp.join(helpers.REPO, 'tools/publish_model.py'))
tsne_tool = _load_module('tsne_ckpt', osp.join(helpers.REPO, 'tools/analysis/tsne.py'))

digits = helpers.digits  # module-scoped fixture: the tiny digits COCO set

REFUSED = 'posix.system'


class TouchMarker:
    """Unpickling this runs ``touch <path>``: what a malicious checkpoint does."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f'touch {self.path}', ))


def write_malicious(path, marker, fmt):
    """A checkpoint that looks real (state dict of tensors) and runs ``touch marker``."""
    payload = dict(
        meta=dict(epoch=1, iter=4, payload=TouchMarker(marker)),
        state_dict=collections.OrderedDict(w=torch.zeros(2)))
    if fmt == 'zip':
        torch.save(payload, path)
    elif fmt == 'legacy':
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:  # a bare pickle, protocol 5 (torch.load reads it too)
        with open(path, 'wb') as f:
            pickle.dump(payload, f, protocol=5)
    return str(path)


@pytest.fixture
def malicious(tmp_path, monkeypatch):
    """(path of the malicious checkpoint, path of the marker it would create)."""
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '0')  # off, whatever the caller's environment says
    marker = tmp_path / 'MARKER'
    path = write_malicious(tmp_path / 'evil.pth', marker, 'zip')
    yield path, marker
    assert not marker.exists(), 'the checkpoint ran code while being loaded'


def assert_refused(info, path):
    msg = str(info.value)
    assert f"ba2m_mm refused to load checkpoint '{path}'" in msg, msg
    assert f"it references '{REFUSED}'" in msg, msg
    assert '--unsafe-load' in msg and f'{UNSAFE_LOAD_ENV}=1' in msg, msg


# --------------------------------------------------------------------- the loader itself
def test_the_malicious_checkpoint_runs_code_when_unpickled_in_full(tmp_path):
    """The threat is real: what mmengine's own loader (weights_only=False) does with it."""
    marker = tmp_path / 'MARKER'
    path = write_malicious(tmp_path / 'evil.pth', marker, 'zip')
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize('fmt', ['zip', 'legacy', 'pickle5'])
def test_loader_refuses_code_in_every_file_format(fmt, tmp_path, monkeypatch):
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '0')
    marker = tmp_path / 'MARKER'
    path = write_malicious(tmp_path / f'evil_{fmt}.pth', marker, fmt)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(path)
    assert_refused(info, path)
    # A bare pickle of tensors also names torch.storage._load_from_bytes, which unpickles
    # in full itself: refused too.
    assert info.value.refused[0] == REFUSED
    assert not marker.exists()
    assert refused_globals(path) == info.value.refused


class StatisticGetattr:
    """Pickled as ``getattr(HistoryBuffer, name)``, as HistoryBuffer's statistics are."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, self.name))


def test_allow_list_is_exactly_what_checkpoints_hold(tmp_path, monkeypatch):
    import numpy as np
    from mmengine.logging import HistoryBuffer
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '0')
    path = str(tmp_path / 'ok.pth')
    torch.save(
        dict(
            state_dict=dict(w=torch.ones(2)),
            arrays=[np.array([1.5, 2.5]),
                    np.zeros(0, np.float32),
                    np.arange(3)],
            scalars=[np.float64(0.5), np.int64(3), np.bool_(True)],
            stat=StatisticGetattr('mean')), path)
    loaded = load_checkpoint_file(path)
    assert np.array_equal(loaded['arrays'][0], [1.5, 2.5]) and loaded['scalars'][1] == 3
    assert loaded['stat'] is HistoryBuffer.mean
    # getattr only for HistoryBuffer's statistics; no object arrays
    for name, obj, refused in (('getattr', StatisticGetattr('__init__'), 'builtins.getattr'),
                               ('objects', np.array([1, 'a'],
                                                    dtype=object), 'numpy.dtypes.ObjectDType')):
        path = str(tmp_path / f'{name}.pth')
        torch.save(dict(state_dict=dict(w=torch.ones(2)), x=obj), path)
        with pytest.raises(UnsafeCheckpointError) as info:
            load_checkpoint_file(path)
        assert info.value.refused == [refused]


@pytest.fixture
def current_log():
    """Messages logged to mmengine's current logger (where print_log(logger='current') goes)
    during the test."""
    import logging

    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_unsafe_load_opt_in_loads_a_trusted_file_and_logs_it(tmp_path, monkeypatch, current_log):
    # A harmless class outside the allow-list stands in for a trusted file that needs one.
    path = str(tmp_path / 'trusted.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(2)), meta=dict(q=collections.deque([1]))), path)
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '0')
    with pytest.raises(UnsafeCheckpointError, match="references 'collections.deque'"):
        load_checkpoint_file(path)
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '1')
    checkpoint = load_checkpoint_file(path)
    assert checkpoint['meta']['q'] == collections.deque([1])
    assert any(f"loading checkpoint '{path}' in full (weights_only=False): it references "
               'collections.deque' in message for message in current_log), current_log


# ------------------------------------------------------- every path, a malicious file
@pytest.mark.parametrize('lib', ['mmdet', 'mmpretrain'])
def test_pretrained_backbone_init_cfg(lib, malicious):
    path, _ = malicious
    registry = importlib.import_module(f'{lib}.registry').MODELS
    model = registry.build(
        dict(
            type='BA2MResNet',
            depth=18,
            base_channels=8,
            ba2m_cfg=dict(reduction=4),
            init_cfg=dict(type='Pretrained', checkpoint=path)))
    with pytest.raises(UnsafeCheckpointError) as info:
        model.init_weights()
    assert_refused(info, path)


def test_mmengine_load_checkpoint_local(malicious):
    path, _ = malicious
    assert CheckpointLoader._get_checkpoint_loader(path) is load_from_local_safely
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(torch.nn.Linear(2, 2), path)
    assert_refused(info, path)


@pytest.mark.parametrize('source', [
    'open-mmlab://resnet50_caffe', 'openmmlab://resnet50_caffe', 'mmcls://resnet50',
    's3://bucket/evil.pth', 'petrel://bucket/evil.pth', 'cluster:s3://bucket/evil.pth',
    'pavi://evil'
])
def test_other_mmengine_prefixes_are_refused(source, monkeypatch):
    """No safe loader for them: refused before anything is read, naming the source."""
    monkeypatch.delenv(UNSAFE_LOAD_ENV, raising=False)
    with pytest.raises(UnsupportedCheckpointSource, match=source.replace('.', r'\.')):
        load_checkpoint(torch.nn.Linear(2, 2), source)


def test_other_mmengine_prefixes_use_mmengine_with_the_opt_in(monkeypatch):
    """``--unsafe-load`` hands them to mmengine's own loader (here: its pavi error)."""
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '1')
    monkeypatch.setitem(sys.modules, 'pavi', None)  # as if not installed
    with pytest.raises(ImportError, match='pavi'):
        load_checkpoint(torch.nn.Linear(2, 2), 'pavi://evil')


def test_mmengine_load_checkpoint_https_and_torchvision(malicious, tmp_path, monkeypatch):
    """Offline: the files are already in torch.hub's cache, as after a download."""
    from mmengine.runner.checkpoint import get_torchvision_models
    path, _ = malicious
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    cache = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    torchvision_file = osp.basename(get_torchvision_models()['resnet50'])
    for name in ('evil.pth', torchvision_file):
        with open(path, 'rb') as src, open(cache / name, 'wb') as dst:
            dst.write(src.read())
    url = 'https://example.com/models/evil.pth'
    assert CheckpointLoader._get_checkpoint_loader(url) is load_from_http_safely
    assert CheckpointLoader._get_checkpoint_loader(
        'torchvision://resnet50') is load_from_torchvision_safely
    torchvision_url = get_torchvision_models()['resnet50']
    for source, name in ((url, f'{url} (cached as {cache / "evil.pth"})'),
                         ('torchvision://resnet50',
                          f'{torchvision_url} (cached as {cache / torchvision_file})')):
        with pytest.raises(UnsafeCheckpointError) as info:
            load_checkpoint(torch.nn.Linear(2, 2), source)
        assert_refused(info, name)


def _run_tool(monkeypatch, tool, *argv):
    monkeypatch.setattr(sys, 'argv', [tool, *map(str, argv)])
    runpy.run_path(osp.join(helpers.TOOLS, tool), run_name='__main__')


@pytest.fixture
def tiny_cfg(digits, tmp_path):
    return helpers.tiny_config(tmp_path, digits, name='tiny_ckpt', probe=False)


def test_tools_test(malicious, tiny_cfg, tmp_path, monkeypatch):
    path, _ = malicious
    with pytest.raises(UnsafeCheckpointError) as info:
        _run_tool(monkeypatch, 'test.py', tiny_cfg, path, '--work-dir', tmp_path / 'test')
    assert_refused(info, path)


def test_tools_train_resume(malicious, tiny_cfg, tmp_path, monkeypatch):
    path, _ = malicious
    with pytest.raises(UnsafeCheckpointError) as info:
        _run_tool(monkeypatch, 'train.py', tiny_cfg, '--work-dir', tmp_path / 'work', '--resume',
                  path)
    assert_refused(info, path)


def test_tools_train_load_from(malicious, tiny_cfg, tmp_path, monkeypatch):
    path, _ = malicious
    with pytest.raises(UnsafeCheckpointError) as info:
        _run_tool(monkeypatch, 'train.py', tiny_cfg, '--work-dir', tmp_path / 'work',
                  '--cfg-options', f'load_from={path}')
    assert_refused(info, path)


def test_strip_ba2m(malicious, tmp_path, monkeypatch):
    path, _ = malicious
    with pytest.raises(UnsafeCheckpointError) as info:
        strip_tool.strip_ba2m(path, str(tmp_path / 'deploy.pth'))
    assert_refused(info, path)
    with pytest.raises(UnsafeCheckpointError) as info:  # the command line
        _run_tool(monkeypatch, 'deploy/strip_ba2m.py', path, tmp_path / 'deploy.pth')
    assert_refused(info, path)
    assert not (tmp_path / 'deploy.pth').exists()


def test_publish_model(malicious, tmp_path, monkeypatch):
    path, _ = malicious
    with pytest.raises(UnsafeCheckpointError) as info:
        publish_tool.publish_model(path, str(tmp_path / 'published.pth'))
    assert_refused(info, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        _run_tool(monkeypatch, 'publish_model.py', path, tmp_path / 'published.pth')
    assert_refused(info, path)
    assert not list(tmp_path.glob('published*'))


def test_analysis_tsne(malicious, tiny_cfg):
    path, _ = malicious
    with pytest.raises(UnsafeCheckpointError) as info:
        tsne_tool.build_model_and_loader(tiny_cfg, path, 'test', batch_size=2)
    assert_refused(info, path)


def test_command_line_error_as_a_user_sees_it(malicious, tiny_cfg, tmp_path):
    """tools/test.py in a subprocess: the message reaches the user and nothing runs."""
    path, _ = malicious
    proc = helpers.run([
        sys.executable,
        osp.join(helpers.TOOLS, 'test.py'), tiny_cfg, path, '--work-dir', tmp_path / 'test'
    ], tmp_path)
    assert proc.returncode != 0
    lines = [line for line in proc.out.splitlines() if 'UnsafeCheckpointError' in line]
    assert lines and lines[-1].startswith(
        f"ba2m_mm.checkpoint.safe_load.UnsafeCheckpointError: ba2m_mm refused to load "
        f"checkpoint '{path}': it references '{REFUSED}'"), proc.out[-3000:]


# ------------------------------------------------------------------ malformed checkpoints
@pytest.fixture
def malformed(tmp_path):
    files = dict(
        not_a_dict=([torch.zeros(2)], 'holds a list, not a dict'),
        no_state_dict=(dict(meta=dict(epoch=1), optimizer=dict(lr=0.1)),
                       "has no 'state_dict' and no tensors (top-level keys: ['meta', "
                       "'optimizer'])"),
        state_dict_not_a_dict=(dict(state_dict=[torch.zeros(2)]),
                               "has a 'state_dict' that is a list, not a dict"),
    )
    out = {}
    for name, (obj, problem) in files.items():
        path = str(tmp_path / f'{name}.pth')
        torch.save(obj, path)
        out[name] = (path, problem)
    empty = str(tmp_path / 'empty.pth')
    open(empty, 'wb').close()
    out['empty'] = (empty, 'is empty or truncated')
    text = str(tmp_path / 'text.pth')
    with open(text, 'w') as f:
        f.write('import os\n')
    out['text'] = (text, 'is not a PyTorch checkpoint')
    return out


@pytest.mark.parametrize('case',
                         ['not_a_dict', 'no_state_dict', 'state_dict_not_a_dict', 'empty', 'text'])
def test_malformed_checkpoints_name_the_file_and_the_problem(malformed, case, tmp_path):
    path, problem = malformed[case]
    expected = f'checkpoint {path!r} {problem}'
    calls = dict(
        strip=lambda: strip_tool.strip_ba2m(path, str(tmp_path / 'deploy.pth')),
        publish=lambda: publish_tool.publish_model(path, str(tmp_path / 'published.pth')),
        mmengine=lambda: load_checkpoint(torch.nn.Linear(2, 2), path))
    for name, call in calls.items():
        with pytest.raises(InvalidCheckpointError) as info:
            call()
        assert expected in str(info.value), (name, str(info.value))


SMALL = ('--cfg-options', 'train_dataloader.dataset.indices=4')  # 2 iterations an epoch


@pytest.fixture(scope='module')
def trained(digits, tmp_path_factory):
    """One epoch of tools/train.py on the tiny config (2 iterations)."""
    tmp = tmp_path_factory.mktemp('trained_ckpt')
    cfg = helpers.tiny_config(tmp, digits, name='round_trip', probe=False)
    work = tmp / 'work'
    proc = helpers.run(helpers.train_cmd(cfg, work, *SMALL), tmp)
    assert proc.returncode == 0, proc.out[-3000:]
    return tmp, cfg, work, proc


def test_wrong_tensor_shapes_name_the_file_and_the_tensors(trained, tmp_path, monkeypatch):
    tmp, cfg, work, _ = trained
    ckpt = str(work / 'epoch_1.pth')
    # The same detector with 16 instead of 8 base channels.
    wider = str(tmp_path / 'wider.py')
    with open(wider, 'w') as f:
        f.write(f'_base_ = {cfg!r}\n'
                'model = dict(backbone=dict(base_channels=16), '
                'neck=dict(in_channels=[16, 32, 64, 128]))\n')
    with pytest.raises(InvalidCheckpointError) as info:
        _run_tool(monkeypatch, 'test.py', wider, ckpt, '--work-dir', tmp_path / 'test')
    msg = str(info.value)
    assert msg.startswith(f'checkpoint {ckpt!r} does not fit the model: ')
    assert 'backbone.conv1.weight: (8, 3, 7, 7) in the file, (16, 3, 7, 7) in the model' in msg
    assert 'Was it trained with another config?' in msg

    with pytest.raises(InvalidCheckpointError) as info:
        strip_tool.strip_ba2m(ckpt, str(tmp_path / 'deploy.pth'), config=wider)
    msg = str(info.value)
    assert msg.startswith(f'checkpoint {ckpt!r} does not fit {wider} after stripping BA2M: ')
    assert '(8, 3, 7, 7) in the file, (16, 3, 7, 7) in the model' in msg
    assert not (tmp_path / 'deploy.pth').exists() and not (tmp_path / 'deploy.py').exists()


def test_resume_from_a_weights_only_checkpoint_says_to_use_load_from(trained, tmp_path,
                                                                     monkeypatch):
    tmp, cfg, work, _ = trained
    published = publish_tool.publish_model(str(work / 'epoch_1.pth'), str(tmp_path / 'pub.pth'))
    with pytest.raises(InvalidCheckpointError) as info:
        _run_tool(monkeypatch, 'train.py', cfg, '--work-dir', tmp_path / 'work', '--resume',
                  published)
    msg = str(info.value)
    assert msg.startswith(f"checkpoint {published!r} cannot be resumed from: it has no "
                          "'message_hub'")
    assert f'use --cfg-options load_from={published} without --resume' in msg


# ------------------------------------------------------------- round trip, safe loading on
def test_own_checkpoints_round_trip_train_resume_test_strip_publish(trained, tmp_path, monkeypatch):
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '0')
    tmp, cfg, work, first = trained
    assert 'weights_only=False' not in first.out
    # The Runner's own checkpoint (HistoryBuffer, numpy arrays and scalars) loads safely.
    checkpoint = load_checkpoint_file(str(work / 'epoch_1.pth'))
    assert set(checkpoint) >= {'meta', 'state_dict', 'optimizer', 'message_hub'}
    assert checkpoint['meta']['iter'] == 2

    # resume: through mmengine's CheckpointLoader, i.e. our local loader
    resumed_work = tmp_path / 'work'
    proc = helpers.run(
        helpers.train_cmd(cfg, resumed_work, '--resume', work / 'epoch_1.pth', *SMALL,
                          'train_cfg.max_epochs=2'), tmp_path)
    assert proc.returncode == 0, proc.out[-3000:]
    assert 'Loads checkpoint by local_safely backend' in proc.out
    assert 'resumed epoch: 1, iter: 2' in proc.out
    epoch_2 = str(resumed_work / 'epoch_2.pth')
    assert load_checkpoint_file(epoch_2)['meta']['iter'] == 4

    # test
    proc = helpers.run(
        [
            sys.executable,
            osp.join(helpers.TOOLS, 'test.py'),
            cfg,
            epoch_2,
            '--work-dir',
            tmp_path / 'test',
            '--cfg-options',
            'model.test_cfg.rcnn.score_thr=0.0'  # a 4-iteration model still scores
        ],
        tmp_path)
    assert proc.returncode == 0, proc.out[-3000:]
    assert 'Loads checkpoint by local_safely backend' in proc.out
    assert 'coco/bbox_mAP' in proc.out

    # strip (config from the checkpoint's meta, strict load verified) and publish
    result = strip_tool.strip_ba2m(epoch_2, str(tmp_path / 'deploy.pth'))
    assert result['removed_keys']
    published = publish_tool.publish_model(result['checkpoint'], str(tmp_path / 'model.pth'))
    # What we ship loads with plain torch's weights-only loader, no allow-list needed.
    for path in (result['checkpoint'], published):
        loaded = torch.load(path, map_location='cpu', weights_only=True)
        assert set(loaded) == {'meta', 'state_dict'}
    for outputs in (first.out, proc.out):
        assert 'in full (weights_only=False)' not in outputs


@pytest.mark.parametrize('style', ['torchvision', 'torchvision_legacy', 'mmpretrain', 'mmdet'])
def test_library_style_checkpoints_load_through_mmengine(style, tmp_path, monkeypatch):
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '0')
    layer = torch.nn.Conv2d(3, 4, 3)
    torch.nn.init.uniform_(layer.weight)
    state = layer.state_dict()
    path = str(tmp_path / f'{style}.pth')
    if style == 'torchvision':
        torch.save(state, path)
    elif style == 'torchvision_legacy':  # the format of torchvision's older model files
        torch.save(state, path, _use_new_zipfile_serialization=False)
    elif style == 'mmpretrain':
        torch.save(
            dict(
                meta=dict(
                    epoch=100,
                    iter=500400,
                    mmengine_version='0.7.0',
                    dataset_meta=dict(classes=('a', 'b'))),
                state_dict=state), path)
    else:  # mmdet 2.x: meta with CLASSES/PALETTE/config, and the optimizer state
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
        layer(torch.ones(1, 3, 5, 5)).sum().backward()
        optimizer.step()
        torch.save(
            dict(
                meta=dict(
                    mmdet_version='2.25.0',
                    CLASSES=('a', 'b'),
                    PALETTE=[(1, 2, 3)],
                    config='model = dict()',
                    epoch=12,
                    iter=1000),
                state_dict=state,
                optimizer=optimizer.state_dict()), path)
    fresh = torch.nn.Conv2d(3, 4, 3)
    load_checkpoint(fresh, path)
    assert torch.equal(fresh.weight, layer.weight)
