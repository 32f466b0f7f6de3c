"""End to end: tools/demo.py builds tiny digits data, trains through mmengine's Runner
and evaluates with mmdet's CocoMetric (bbox and segm)."""
import importlib.util
import math
import os
import os.path as osp

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
    data = demo.ensure_data(
        data_root, num_train=4, num_val=2, image_size=64, digit_size=(16, 30), progress=False)
    assert data == dict(train=4, val=2, built=True)
    assert demo.ensure_data(data_root, num_train=4, num_val=2)['built'] is False

    result = demo.run_arm(
        'ba2m', data_root, str(tmp_path / 'work'), max_epochs=1, cfg_options=TINY_PIPELINES)
    assert result['iters'] == 2 and result['epochs'] == 1
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50'):
        assert key in result['metrics'] and math.isfinite(result['metrics'][key])
        assert 0.0 <= result['metrics'][key] <= 1.0
    assert 'epoch_1.pth' in os.listdir(tmp_path / 'work')
    table = demo.format_table([result])
    assert 'BA2M R-18 (scaled_softmax)' in table and 'segm mAP' in table


def test_arm_configs_share_everything_but_the_backbone(tmp_path):
    cfgs = {
        arm: demo.arm_config(arm, str(tmp_path), str(tmp_path / arm), max_epochs=4)
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
    cfg = Config.fromfile(demo.BA2M_CONFIG)
    model = MODELS.build(cfg.model)
    names = sorted(m.name for m in model.modules() if isinstance(m, BA2M))
    assert names == ['layer1', 'layer2', 'layer3', 'layer4']
