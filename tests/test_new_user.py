"""What a new user met (issue 26): tools run from an installed wheel take their configs from
``.mim`` and their data from ``--data-root`` / ``--archive``; t-SNE samples are stratified by
class; run times in the docs are the reports' with their threads, or 'about' with a range; a
benchmark too short for its goals gives ratios with their spread, no verdict."""
import importlib.util
import json
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from ba2m_mm.analysis import benchmark_report
from ba2m_mm.compare import presets
from ba2m_mm.datasets import CIFAR10_CLASSES
from ba2m_mm.visualization import tsne as tsne_lib

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(name, path):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare = load_tool('compare_tool', 'tools/compare.py')
tsne_tool = load_tool('tsne_tool', 'tools/analysis/tsne.py')


def write_images(folder, count, seed=0):
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True)
    for i in range(count):
        cv2.imwrite(str(folder / f'{i:04d}.jpg'), rng.randint(0, 255, (32, 32, 3)).astype(np.uint8))


def fake_cifar10(root, train=2, test=1):
    """The layout of cifar10-jpeg.tar.gz (extracted), ``train`` / ``test`` images a class."""
    for split, count in (('train', train), ('test', test)):
        for name in CIFAR10_CLASSES:
            write_images(root / split / name, count)
    return root


# ------------------------------------------------------- configs and data from a wheel
def installed_layout(tmp_path, monkeypatch):
    """presets as in an installed wheel: site-packages/ba2m_mm/.mim/configs/ba2m, no
    configs/ beside the package."""
    site = tmp_path / 'site'
    mim_configs = site / 'ba2m_mm' / '.mim' / 'configs' / 'ba2m'
    shutil.copytree(osp.join(REPO, 'configs'), mim_configs)
    monkeypatch.setattr(presets, 'REPO', str(site))
    monkeypatch.setattr(presets, 'PACKAGE', str(site / 'ba2m_mm'))
    return str(mim_configs)


def test_presets_take_the_mim_configs_without_the_repository(tmp_path, monkeypatch):
    assert presets.config_dir() == osp.join(REPO, 'configs')  # the source checkout
    mim_configs = installed_layout(tmp_path, monkeypatch)
    assert not presets.repo_layout()
    assert presets.config_dir() == mim_configs
    arms = {a.name: a.config for a in presets.preset('cifar10-cpu')['arms']}
    assert arms == {
        'ba2m': osp.join(mim_configs, 'resnet18_ba2m_cpu_cifar10.py'),
        'plain': osp.join(mim_configs, 'resnet18_cpu_cifar10.py')
    }
    ablation = presets.preset('cifar10-ablation')['arms']
    assert len(ablation) == 10 and all(a.config.startswith(mim_configs) for a in ablation)
    assert presets.default_archive() is None  # no shared/ beside site-packages
    assert presets.default_data_root() == osp.join('data', 'cifar10')


def test_compare_without_archive_or_images_names_the_option(tmp_path, monkeypatch):
    installed_layout(tmp_path, monkeypatch)
    empty = str(tmp_path / 'data' / 'cifar10')
    args = compare.parse_args(['--preset', 'cifar10-cpu', '--data-root', empty])
    with pytest.raises(
            SystemExit,
            match=re.escape(f"--archive: no CIFAR-10 JPEG images at "
                            f"--data-root '{empty}'")):
        compare.build_comparison(args)
    missing = str(tmp_path / 'nowhere' / 'cifar10-jpeg.tar.gz')
    args = compare.parse_args(
        ['--preset', 'cifar10-cpu', '--data-root', empty, '--archive', missing])
    with pytest.raises(
            SystemExit, match=re.escape(f'--archive: CIFAR-10 JPEG archive not found: '
                                        f"'{missing}'")):
        compare.build_comparison(args)


def test_compare_data_root_reaches_every_arm_and_split(tmp_path, monkeypatch):
    mim_configs = installed_layout(tmp_path, monkeypatch)
    root = str(fake_cifar10(tmp_path / 'elsewhere' / 'cifar10', train=10))
    args = compare.parse_args(['--preset', 'cifar10-cpu', '--data-root', root, '--seeds', '3'])
    comparison = compare.build_comparison(args)
    with open(osp.join(root, 'meta', 'val.txt')) as f:  # prepared: 10 % of 10 images a class
        assert len(f.readlines()) == 10
    for arm in comparison.arms:
        assert arm.config.startswith(mim_configs)
        cfg = comparison.make_config(arm, 3, str(tmp_path / 'work'), None)
        for split in ('train', 'val', 'test'):
            assert cfg[f'{split}_dataloader'].dataset.data_root == root, (arm.name, split)
        assert cfg.randomness.seed == 3
        # where the data lie is not part of the run's identity: resuming keeps the runs
        assert comparison.spec(arm, 3)['cfg_options'] == arm.cfg_options


def test_data_options_set_the_archive_of_datasets_that_take_one(tmp_path):
    archive = tmp_path / 'cifar10-jpeg.tar.gz'
    archive.write_bytes(b'')
    config = tmp_path / 'extracting.py'
    config.write_text("train_dataloader = dict(dataset=dict(type='X', data_root='d', "
                      "archive='a'))\n"
                      "val_dataloader = dict(dataset=dict(type='CustomDataset', data_root='d'))\n"
                      'test_dataloader = None\n')
    assert presets.data_cfg_options(str(config), 'new', str(archive)) == {
        'train_dataloader.dataset.data_root': 'new',
        'train_dataloader.dataset.archive': str(archive),
        'val_dataloader.dataset.data_root': 'new'
    }


# ------------------------------------------------------------------- t-SNE sampling
def test_stratified_indices_cover_every_class_and_are_seeded():
    by_class = [[c] for c in range(4) for _ in range(10)]  # ordered by class, as val.txt
    drawn = tsne_lib.stratified_indices(by_class, 8, seed=0)
    assert sorted(by_class[i][0] for i in drawn) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert drawn == tsne_lib.stratified_indices(by_class, 8, seed=0)
    assert drawn != tsne_lib.stratified_indices(by_class, 8, seed=1)
    # detection: images hold several objects; an image is drawn once; empty ones never
    objects = [[0, 0, 1], [], [1], [2, 2], [0]]
    drawn = tsne_lib.stratified_indices(objects, 100)
    assert sorted(drawn) == [0, 2, 3, 4]
    assert len(tsne_lib.stratified_indices(objects, 3)) < 4


def tiny_classifier(tmp_path, classes, per_class):
    """A BA2M ResNet classifier config, its checkpoint and a class-per-folder val set
    (listed in class order, as meta/val.txt is)."""
    for label, name in enumerate(classes):
        write_images(tmp_path / 'data' / name, per_class, seed=label)
    backbone = dict(
        type='BA2MResNet', depth=18, base_channels=8, stem_channels=8, ba2m_cfg=dict(reduction=4))
    cfg = Config(
        dict(
            default_scope='mmpretrain',
            custom_imports=dict(imports=['ba2m_mm'], allow_failed_imports=False),
            model=dict(
                type='ImageClassifier',
                backbone=backbone,
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead',
                    num_classes=len(classes),
                    in_channels=64,
                    loss=dict(type='CrossEntropyLoss'))),
            val_dataloader=dict(
                batch_size=4,
                num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(
                    type='CustomDataset',
                    data_root=str(tmp_path / 'data'),
                    pipeline=[dict(type='LoadImageFromFile'),
                              dict(type='PackInputs')]))))
    path = str(tmp_path / 'cls.py')
    cfg.dump(path)
    init_default_scope('mmpretrain')
    ckpt = str(tmp_path / 'cls.pth')
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, ckpt)
    return path, ckpt


def test_tsne_max_items_draws_every_class(tmp_path, capsys):
    config, ckpt = tiny_classifier(tmp_path, ('a', 'b', 'c'), per_class=6)
    out = str(tmp_path / 'tsne.png')
    tsne_tool.main([config, ckpt, '--max-items', '6', '--out', out, '--device', 'cpu'])
    assert '6 items, 64-d features, 3 classes' in capsys.readouterr().out  # was: 1 class
    assert osp.getsize(out) > 0


def test_tsne_of_one_class_is_an_error(tmp_path):
    config, ckpt = tiny_classifier(tmp_path, ('a', ), per_class=6)
    with pytest.raises(
            ValueError,
            match=r"6 items of split 'val' \(--split\) with max_items "
            r'\(--max-items\) 6 hold 1 class\(es\) \[0\]: a t-SNE by class needs at '
            'least 2'):
        tsne_tool.main([config, ckpt, '--max-items', '6', '--out', str(tmp_path / 't.png')])
    with pytest.raises(ValueError, match=r'max_items \(--max-items\) must be >= 5.*got 4'):
        tsne_tool.main([config, ckpt, '--max-items', '4'])


# ------------------------------------------------------------ benchmark verdicts
def timing(rounds, steps, ba2m_train, ba2m_infer):
    """A cls result of step_timing.run_setting with the given per-round times (plain:
    1 s a step, 0.5 s an inference)."""
    plain = dict(train_times=[1.0] * rounds, infer_times=[0.5] * rounds)
    ba2m = dict(train_times=ba2m_train, infer_times=ba2m_infer)
    models = {}
    for name, r in (('plain', plain), ('ba2m-auto', ba2m)):
        models[name] = dict(
            r,
            train_s=float(np.median(r['train_times'])),
            infer_s=float(np.median(r['infer_times'])),
            peak_mem_mib=100.0)
    for r in models.values():
        r.update(
            train_ratio=r['train_s'] / models['plain']['train_s'],
            infer_ratio=r['infer_s'] / models['plain']['infer_s'],
            mem_ratio=1.0)
    return dict(
        batch=8,
        shape=[224, 224],
        rounds=rounds,
        steps=steps,
        warmup=0,
        device='cpu',
        amp=False,
        models=models)


def test_quick_benchmark_gives_ratios_with_spread_and_no_verdict():
    # issue 26's quick look: 2 rounds x 1 step, ratios on noise
    text = benchmark_report.format_results('cls', timing(2, 1, [0.9, 1.168], [0.40, 0.485]))
    assert 'met' not in text
    assert ('goals (ba2m-auto / plain: train <= 1.15, inference <= 1.01): no verdict: 2 round(s) '
            'x 1 step(s) is fewer than the 5 x 3 the goals need (cls default on cpu)') in text
    assert 'ratios to plain: of the medians (min-max of the 2 per-round ratios)' in text
    assert '  ba2m-auto     train 1.034 (0.900-1.168), inference 0.885 (0.800-0.970)' in text


def test_benchmark_with_enough_rounds_and_steps_gives_verdicts():
    text = benchmark_report.format_results('cls', timing(5, 3, [1.1] * 5, [0.5] * 5))
    assert ('goals (ba2m-auto / plain): train <= 1.15 (measured 1.100, met), inference <= 1.01 '
            '(measured 1.000, met)') in text
    assert 'no verdict' not in text


# ------------------------------------------------------------- run times in docs
def test_demo_time_in_the_docs_is_the_reports_with_its_threads():
    with open(osp.join(REPO, 'docs', 'results', 'digits_make_demo.json')) as f:
        report = json.load(f)
    (run, ) = report['results']
    with open(osp.join(REPO, 'docs', 'demo.md')) as f:
        demo = f.read()
    # the figure is generated from the report (doc_tables' value markers)
    assert f'<!-- value: make_demo_s -->{report["total_time"]:.0f}<!-- /value -->' in demo
    assert run['train_time'] < report['total_time']
    with open(osp.join(REPO, 'docs', 'tools.md')) as f:
        tools = f.read()
    assert re.search(r'`--paper-table` takes about \d+ min \(one timed run', tools)
