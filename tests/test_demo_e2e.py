"""End to end: tools/demo.py builds tiny digits data, trains through mmengine's Runner
(ba2m_mm.compare) and evaluates with mmdet's CocoMetric (bbox and segm)."""
import importlib.util
import math
import os
import os.path as osp

import pytest

from ba2m_mm.compare import add_weight_hook, run_config
from ba2m_mm.compare.digits import BA2M_CONFIG, DIGITS_ARMS, digits_config, ensure_digits
from ba2m_mm.compare.run import WEIGHT_HOOK
from ba2m_mm.models.layers import BA2M

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
_spec = importlib.util.spec_from_file_location('ba2m_demo', osp.join(REPO, 'tools', 'demo.py'))
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)

# Tiny and fast: 64x64 images (resized to 64 instead of 128), 2 images per batch.
TINY_PIPELINES = {
    'train_dataloader.batch_size': 2,
    'test_dataloader.batch_size': 2,
    'train_dataloader.dataset.pipeline.2.scale': (64, 64),
    'test_dataloader.dataset.pipeline.1.scale': (64, 64),
    'model.test_cfg.rcnn.score_thr': 0.0,  # an untrained model still gets scored
}


def test_demo_trains_and_reports_coco_metrics(tmp_path):
    data_root = str(tmp_path / 'digits')
    data = ensure_digits(
        data_root, num_train=4, num_val=2, image_size=64, digit_size=(16, 30), progress=False)
    assert data == dict(train=4, val=2, built=True)
    assert ensure_digits(data_root, num_train=4, num_val=2)['built'] is False

    cfg = digits_config(
        DIGITS_ARMS['ba2m'],
        data_root,
        str(tmp_path / 'work'),
        max_epochs=1,
        cfg_options=TINY_PIPELINES)
    result = run_config(cfg, 'test')
    assert result['iters'] == 2
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50'):
        assert key in result['metrics'] and math.isfinite(result['metrics'][key])
        assert 0.0 <= result['metrics'][key] <= 1.0
    assert 'epoch_1.pth' in os.listdir(tmp_path / 'work')
    assert sorted(result['weight_spread']) == ['layer1', 'layer2', 'layer3', 'layer4']


def test_arm_configs_share_everything_but_the_backbone(tmp_path):
    cfgs = {
        arm: digits_config(DIGITS_ARMS[arm], str(tmp_path), str(tmp_path / arm), max_epochs=4)
        for arm in ('ba2m', 'plain', 'ba2m_softmax')
    }
    ba2m, plain, softmax = (cfgs[a].to_dict() for a in ('ba2m', 'plain', 'ba2m_softmax'))
    assert ba2m['model']['backbone']['type'] == 'BA2MResNet'
    assert plain['model']['backbone']['type'] == 'ResNet'
    assert ba2m['model']['backbone']['ba2m_cfg']['normalize'] == 'scaled_softmax'
    assert softmax['model']['backbone']['ba2m_cfg']['normalize'] == 'softmax'
    for key in ('depth', 'frozen_stages', 'norm_eval', 'init_cfg', 'out_indices'):
        assert ba2m['model']['backbone'][key] == plain['model']['backbone'][key]
    for cfg in (ba2m, plain, softmax):
        cfg['model'].pop('backbone')
        cfg.pop('work_dir')
        cfg.pop('filename', None)
        assert cfg['train_cfg']['max_epochs'] == 4
    assert ba2m == plain
    assert cfgs['ba2m'].train_dataloader.batch_size >= 2  # BA2M needs a batch to weigh
    assert cfgs['ba2m'].param_scheduler[1].milestones == [500]
    assert cfgs['ba2m'].test_evaluator.ann_file == osp.join(
        str(tmp_path), 'annotations', 'instances_val.json')


def test_ba2m_modules_in_demo_model():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    cfg = Config.fromfile(BA2M_CONFIG)
    model = MODELS.build(cfg.model)
    names = sorted(m.name for m in model.modules() if isinstance(m, BA2M))
    assert names == ['layer1', 'layer2', 'layer3', 'layer4']


def test_batch_size_keeps_the_budget_in_images_and_logs_weights(tmp_path):
    cfgs = {
        (arm, b): digits_config(DIGITS_ARMS[arm], str(tmp_path), str(tmp_path / arm), batch_size=b)
        for arm in ('ba2m', 'plain')
        for b in (2, 4)
    }
    b4, b2 = cfgs['ba2m', 4], cfgs['ba2m', 2]
    assert b4.train_dataloader.batch_size == 4 and b2.train_dataloader.batch_size == 2
    assert b2.train_cfg.max_epochs == b4.train_cfg.max_epochs == 2  # same images seen
    # Iteration-based boundaries move with the batch: the same number of images each.
    assert (b4.param_scheduler[0].end, b2.param_scheduler[0].end) == (50, 100)
    assert (b4.param_scheduler[1].milestones, b2.param_scheduler[1].milestones) == ([250], [500])
    assert (b4.param_scheduler[1].end, b2.param_scheduler[1].end) == (300, 600)
    assert b2.optim_wrapper.optimizer.lr == b4.optim_wrapper.optimizer.lr  # not rescaled
    assert add_weight_hook(b4) and b4.custom_hooks == [WEIGHT_HOOK]
    assert add_weight_hook(b4) and len(b4.custom_hooks) == 1  # not twice
    assert not add_weight_hook(cfgs['plain', 2])
    assert not cfgs['plain', 2].get('custom_hooks')
    # Both knobs together: epochs stretch the milestones, the batch scales all boundaries.
    both = digits_config(
        DIGITS_ARMS['ba2m'], str(tmp_path), str(tmp_path / 'x'), max_epochs=4, batch_size=2)
    assert both.param_scheduler[1].milestones == [1000] and both.param_scheduler[0].end == 100
    with pytest.raises(ValueError, match='batch_size must be an int >= 1, got 0'):
        digits_config(DIGITS_ARMS['ba2m'], str(tmp_path), str(tmp_path / 'x'), batch_size=0)


def test_demo_arguments():
    args = demo.parse_args(['--compare', '--seeds', '0', '1', '2', '--batch-size', '2', '4'])
    assert args.arms == ['ba2m', 'plain'] and args.seeds == [0, 1, 2]
    assert args.batch_size == [2, 4] and args.threads == demo.DEFAULT_THREADS
    assert demo.parse_args([]).seeds == [0] and demo.parse_args(['--seed', '3']).seeds == [3]
    assert demo.parse_args(['--arms', 'plain', '--batch-size', '1']).batch_size == [1]
    for argv in (['--seed', '1', '--seeds', '0',
                  '1'], ['--seeds', '0', '0'], ['--batch-size',
                                                '1'], ['--compare', '--batch-size', '2',
                                                       '2'], ['--threads',
                                                              '0'], ['--max-epochs', '0']):
        with pytest.raises(SystemExit):
            demo.parse_args(argv)


def test_seeds_run_end_to_end_with_weight_spread(tmp_path):
    """``main`` with two seeds: separate log dirs, the hook's weight spread, JSON and md."""
    import json

    import torch
    data_root = str(tmp_path / 'digits')
    ensure_digits(
        data_root, num_train=4, num_val=2, image_size=64, digit_size=(16, 30), progress=False)
    argv = [
        '--arms', 'ba2m', 'plain', '--seeds', '0', '1', '--batch-size', '2', '--max-epochs', '1',
        '--data-root', data_root, '--work-dir-root',
        str(tmp_path / 'work'), '--threads',
        str(torch.get_num_threads()), '--no-pictures', '--cfg-options'
    ] + [f'{k}={v}'.replace(' ', '') for k, v in TINY_PIPELINES.items()]
    demo.main(argv)
    report = json.loads((tmp_path / 'work' / 'demo_results.json').read_text())
    assert [(r['arm'], r['seed'], r['group'], r['iters'])
            for r in report['results']] == [('ba2m', 0, 2, 2), ('plain', 0, 2, 2),
                                            ('ba2m', 1, 2, 2), ('plain', 1, 2, 2)]
    for r in report['results']:
        # Each run logged its own 2 iterations in its own work dir (no shared visualizer).
        assert r['work_dir'].endswith(f'demo_{r["arm"]}_b2_seed{r["seed"]}')
        spread = r['weight_spread']
        if r['arm'] == 'plain':
            assert spread == {}
            continue
        assert sorted(spread) == ['layer1', 'layer2', 'layer3', 'layer4']
        assert all(s['logged'] == 2 and 0 <= s['w_std'] < 1 for s in spread.values())
    row = report['summary'][0]
    assert row['seeds'] == [0, 1] and row['metrics']['coco/bbox_mAP']['n'] == 2
    (diff, ) = report['differences']
    assert diff['reference'] == 'plain' and sorted(diff['per_seed']) == ['0', '1']
    md = (tmp_path / 'work' / 'demo_results.md').read_text()
    assert 'w std, last 10% (layer1 / layer2 / layer3 / layer4)' in md
    assert '| 2 | BA2M R-18 | 2 |' in md
    assert 'BA2M R-18 - plain' in md
    # the pictures of the first seed's BA2M run (t-SNE needs more than 2 val images)
    from ba2m_mm.compare.digits import demo_pictures
    pictures = demo_pictures(report, str(tmp_path / 'work'), tsne=False)
    assert [osp.basename(p) for p in pictures] == ['ba2m_weights.png', 'ba2m_branch_shares.png']
    assert all(osp.getsize(p) > 10_000 for p in pictures)
