"""Deploy export: a stripped BA2M detector loads into plain mmdet and predicts the same."""
import hashlib
import importlib.util
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from ba2m_mm.models.layers import BA2M

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BA2M_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_ba2m_digits.py')
PLAIN_CONFIG = osp.join(REPO, 'configs', 'demo_mask_rcnn_r18_plain_digits.py')
# A tiny member of the demo model family: R-18 layout with 8 base channels.
TINY = {
    'model.backbone.base_channels': 8,
    'model.backbone.ba2m_cfg.reduction': 4,
    'model.neck.in_channels': [8, 16, 32, 64],
    'model.neck.out_channels': 16,
    'model.rpn_head.in_channels': 16,
    'model.rpn_head.feat_channels': 16,
    'model.roi_head.bbox_roi_extractor.out_channels': 16,
    'model.roi_head.bbox_head.in_channels': 16,
    'model.roi_head.bbox_head.fc_out_channels': 32,
    'model.roi_head.mask_roi_extractor.out_channels': 16,
    'model.roi_head.mask_head.in_channels': 16,
    'model.roi_head.mask_head.conv_out_channels': 16,
    'model.test_cfg.rcnn.score_thr': 0.0,  # keep every detection: more to compare
}


def _load_tool(name, path):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


strip_tool = _load_tool('strip_ba2m', 'tools/deploy/strip_ba2m.py')
publish_tool = _load_tool('publish_model', 'tools/publish_model.py')


def _build(cfg):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    return MODELS.build(cfg.model)


def _batch(model):
    """Two 64x64 images through the detector's data preprocessor."""
    from mmdet.structures import DetDataSample
    generator = torch.Generator().manual_seed(0)
    images = [
        torch.randint(0, 256, (3, 64, 64), generator=generator, dtype=torch.uint8) for _ in range(2)
    ]
    samples = [
        DetDataSample(
            metainfo=dict(
                img_id=i, img_shape=(64, 64), ori_shape=(64, 64), scale_factor=(1.0, 1.0)))
        for i in range(2)
    ]
    return model.data_preprocessor(dict(inputs=images, data_samples=samples), False)


def _predictions(model, data):
    with torch.no_grad():
        results = model.eval().predict(data['inputs'], data['data_samples'])
    return [{
        k: r.pred_instances[k]
        for k in ('bboxes', 'scores', 'labels', 'masks')
    } for r in results]


@pytest.fixture(scope='module', params=['between', 'inside'])
def ba2m_checkpoint(request, tmp_path_factory):
    """A tiny BA2M Mask R-CNN after two training steps, saved as a Runner would."""
    cfg = Config.fromfile(BA2M_CONFIG)
    cfg.merge_from_dict({**TINY, 'model.backbone.ba2m_position': request.param})
    torch.manual_seed(0)
    model = _build(cfg)
    model.init_weights()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = _batch(model)
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    for sample in data['data_samples']:
        masks = torch.zeros(1, 64, 64, dtype=torch.uint8)
        masks[0, 10:40, 12:30] = 1
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[12.0, 10.0, 30.0, 40.0]]),
            labels=torch.tensor([3]),
            masks=BitmapMasks(masks.numpy(), 64, 64))
    model.train()
    for _ in range(2):  # BN statistics and weights move away from init
        losses = model.loss(data['inputs'], data['data_samples'])
        optimizer.zero_grad()
        sum(v if isinstance(v, torch.Tensor) else sum(v) for v in losses.values()).backward()
        optimizer.step()
    assert all(len(m.last_weights) == 2 for m in model.modules() if isinstance(m, BA2M))
    path = str(tmp_path_factory.mktemp(request.param) / 'ba2m.pth')
    torch.save(
        dict(
            meta=dict(cfg=cfg.pretty_text, epoch=1),
            state_dict=model.state_dict(),
            optimizer=optimizer.state_dict(),
            message_hub=dict(log_scalars={})), path)
    return model, cfg, path


def test_strip_gives_plain_mmdet_model_with_identical_predictions(ba2m_checkpoint, tmp_path):
    model, cfg, path = ba2m_checkpoint
    ba2m_keys = {
        f'{name}.{key}'
        for name, m in model.named_modules() if isinstance(m, BA2M) for key in m.state_dict()
    }
    assert ba2m_keys
    out = str(tmp_path / 'deploy.pth')
    result = strip_tool.strip_ba2m(path, out)  # config from the checkpoint meta, verified
    assert set(result['removed_keys']) == ba2m_keys
    assert result['config'] == str(tmp_path / 'deploy.py')

    text = open(result['config']).read()
    assert 'ba2m' not in text.lower() and 'custom_imports' not in text
    plain_cfg = Config.fromfile(result['config'])
    assert plain_cfg.model.backbone.type == 'ResNet'
    stripped = torch.load(out, weights_only=True)  # plain torch, no allow-list needed
    assert set(stripped) == {'meta', 'state_dict'}
    plain = _build(plain_cfg)
    assert not any(isinstance(m, BA2M) for m in plain.modules())
    plain.load_state_dict(stripped['state_dict'], strict=True)

    data = _batch(model)
    expected, got = _predictions(model, data), _predictions(plain, data)
    assert sum(len(p['scores']) for p in expected) > 0
    for e, g in zip(expected, got):
        for key in e:
            assert torch.equal(e[key], g[key]), key
    # BN running statistics were trained, so equality is not a trivial one.
    assert any(not torch.allclose(m.running_var, torch.ones_like(m.running_var))
               for m in plain.modules() if isinstance(m, _BatchNorm))


SUBPROCESS = r'''
import sys, torch
from mmengine.config import Config
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
register_all_modules()
cfg_path, ckpt_path, data_path, out_path = sys.argv[1:]
model = MODELS.build(Config.fromfile(cfg_path).model)
model.load_state_dict(torch.load(ckpt_path, weights_only=True)['state_dict'], strict=True)
data = torch.load(data_path, weights_only=False)
samples = [DetDataSample(metainfo=m) for m in data['metainfo']]
with torch.no_grad():
    results = model.eval().predict(data['inputs'], samples)
assert not any(m.startswith('ba2m_mm') for m in sys.modules), 'ba2m_mm was imported'
torch.save([{k: r.pred_instances[k] for k in ('bboxes', 'scores', 'labels', 'masks')}
            for r in results], out_path)
'''


def test_stripped_model_runs_without_ba2m_mm(ba2m_checkpoint, tmp_path):
    model, cfg, path = ba2m_checkpoint
    if cfg.model.backbone.ba2m_position != 'between':
        pytest.skip('one subprocess run is enough')
    cfg.dump(str(tmp_path / 'train_cfg.py'))
    out = str(tmp_path / 'deploy.pth')
    strip_tool.strip_ba2m(path, out, config=str(tmp_path / 'train_cfg.py'), verify=False)
    data = _batch(model)
    torch.save(
        dict(inputs=data['inputs'], metainfo=[s.metainfo for s in data['data_samples']]),
        tmp_path / 'data.pt')
    subprocess.run([
        sys.executable, '-c', SUBPROCESS,
        str(tmp_path / 'deploy.py'), out,
        str(tmp_path / 'data.pt'),
        str(tmp_path / 'preds.pt')
    ],
                   check=True,
                   cwd=str(tmp_path))
    got = torch.load(tmp_path / 'preds.pt', weights_only=False)
    for e, g in zip(_predictions(model, data), got):
        for key in e:
            assert torch.equal(e[key], g[key]), key


def test_strip_rejects_a_plain_config():
    with pytest.raises(ValueError, match="model.backbone.type must be one of .*got 'ResNet'"):
        strip_tool.strip_config(Config.fromfile(PLAIN_CONFIG))


def test_strip_config_of_a_resnext_detector():
    cfg = strip_tool.strip_config(
        Config.fromfile(osp.join(REPO, 'configs', 'faster_rcnn_x101_ba2m_2x_coco.py')))
    assert cfg.model.backbone.type == 'ResNeXt' and cfg.model.backbone.groups == 32
    assert not any(k.startswith('ba2m') for k in cfg.model.backbone)
    assert 'ba2m_mm' not in str(cfg.get('custom_imports', ''))


def test_strip_state_dict_matches_only_ba2m_keys():
    state = {
        k: torch.zeros(1)
        for k in ('backbone.ba2m2.local_spatial.g0.weight',
                  'backbone.layer3.1.ba2m.channel_attention.fc', 'backbone.layer3.1.conv1.weight',
                  'backbone.ba2m_extra', 'neck.lateral_convs.0.conv.weight',
                  'module.backbone.ba2m4.global_spatial.f.weight')
    }
    kept, removed = strip_tool.strip_state_dict(state)
    assert sorted(removed) == [
        'backbone.ba2m2.local_spatial.g0.weight', 'backbone.layer3.1.ba2m.channel_attention.fc',
        'module.backbone.ba2m4.global_spatial.f.weight'
    ]
    assert list(kept) == [
        'backbone.layer3.1.conv1.weight', 'backbone.ba2m_extra', 'neck.lateral_convs.0.conv.weight'
    ]


def test_publish_model_keeps_meta_and_weights_and_names_by_hash(tmp_path):
    state = dict(w=torch.arange(6.0))
    torch.save(
        dict(meta=dict(epoch=3), state_dict=state, optimizer=dict(lr=1), message_hub=dict(x=1)),
        tmp_path / 'in.pth')
    final = publish_tool.publish_model(str(tmp_path / 'in.pth'), str(tmp_path / 'model.pth'))
    match = re.fullmatch(re.escape(str(tmp_path / 'model-')) + r'([0-9a-f]{8})\.pth', final)
    assert match
    with open(final, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == match.group(1)
    published = torch.load(final, weights_only=True)
    assert set(published) == {'meta', 'state_dict'}
    assert torch.equal(published['state_dict']['w'], state['w'])
    assert not osp.exists(tmp_path / 'model.tmp.pth')


def test_stripped_config_does_not_write_into_the_source_run():
    cfg = Config.fromfile(BA2M_CONFIG)
    cfg.work_dir = 'work_dirs/demo_mask_rcnn_r18_ba2m_digits'
    stripped = strip_tool.strip_config(cfg)
    assert 'work_dir' not in stripped
    assert cfg.work_dir == 'work_dirs/demo_mask_rcnn_r18_ba2m_digits'  # input left as it is
