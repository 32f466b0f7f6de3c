"""BA2MWeightHook: statistics, mmengine Runner integration and the plot tool."""
import json
import math
import os.path as osp
import sys
from glob import glob

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from ba2m_mm.engine.hooks import BA2MWeightHook, ba2m_weight_stats
from ba2m_mm.models.layers import BA2M

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', 'tools', 'analysis'))
import plot_ba2m_weights  # noqa: E402


def reference_stats(weights):
    """Independent recomputation of the statistics from ``last_weights``."""
    w = weights.double()
    p = w / w.sum()
    entropy = -sum(float(pi) * math.log(float(pi)) for pi in p)
    mean = float(w.mean())
    std = math.sqrt(sum((float(wi) - mean)**2 for wi in w) / len(w))
    return dict(
        w_min=float(w.min()),
        w_max=float(w.max()),
        w_std=std,
        entropy=entropy,
        entropy_norm=entropy / math.log(len(w)))


def test_stats_uniform_and_peaked():
    uniform = ba2m_weight_stats(torch.full((8, ), 1 / 8))
    assert uniform['w_std'] == pytest.approx(0, abs=1e-9)
    assert uniform['entropy'] == pytest.approx(math.log(8))
    assert uniform['entropy_norm'] == pytest.approx(1.0)
    peaked = ba2m_weight_stats(torch.tensor([1.0, 0.0, 0.0, 0.0]))
    assert peaked['entropy_norm'] == pytest.approx(0.0, abs=1e-6)
    # scaled_softmax weights (mean 1) give the same entropy as softmax weights.
    w = torch.softmax(torch.randn(6), 0)
    assert ba2m_weight_stats(w * 6)['entropy'] == pytest.approx(ba2m_weight_stats(w)['entropy'])
    shares = ba2m_weight_stats(w, torch.tensor([0.25, 0.75]), ('channel', 'local'))
    assert shares['share_channel'] == 0.25 and shares['share_local'] == 0.75


def test_hook_registered_and_bad_interval():
    assert HOOKS.get('BA2MWeightHook') is BA2MWeightHook
    with pytest.raises(ValueError, match='interval must be an int >= 1, got 0'):
        BA2MWeightHook(interval=0)


class ResidualBlock(nn.Module):
    """Residual block with a BA2M inside (no name: the hook uses its path;
    default normalisation, scaled_softmax)."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.ba2m = BA2M(channels, reduction=4, branches=('local', 'global'))

    def forward(self, x):
        return F.relu(x + self.ba2m(self.conv(x)))


class ToyBA2MNet(BaseModel):
    """conv -> BA2M 'between' (named 'stage1') -> block with BA2M 'inside'."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.ba2m1 = BA2M(8, reduction=2, normalize='softmax', name='stage1')
        self.block = ResidualBlock(8)
        self.head = nn.Linear(8, 3)

    def forward(self, inputs, labels=None, mode='tensor'):
        x = self.block(self.ba2m1(F.relu(self.stem(inputs))))  # (N, 8, H, W)
        logits = self.head(x.mean(dim=(2, 3)))  # (N, 3)
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        return logits


def random_loader(num=16, batch_size=4):
    g = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.rand(3, 16, 16, generator=g), labels=i % 3) for i in range(num)]
    return DataLoader(data, batch_size=batch_size, shuffle=False)


def read_scalars(work_dir):
    files = glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    with open(files[0]) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_hook_in_runner_logs_recomputable_stats(tmp_path):
    torch.manual_seed(0)
    model = ToyBA2MNet()
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=random_loader(),
        train_cfg=dict(by_epoch=False, max_iters=6, val_interval=1000),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=3),
            checkpoint=dict(type='CheckpointHook', interval=1000)),
        custom_hooks=[dict(type='BA2MWeightHook', interval=3)],
        experiment_name='test_ba2m_weight_hook')
    runner.train()

    records = [r for r in read_scalars(str(tmp_path)) if 'ba2m/stage1/w_std' in r]
    assert [r['step'] for r in records] == [3, 6]
    last = records[-1]
    names = {'stage1': model.ba2m1, 'block.ba2m': model.block.ba2m}
    for name, module in names.items():
        expected = reference_stats(module.last_weights)
        for stat, value in expected.items():
            assert last[f'ba2m/{name}/{stat}'] == pytest.approx(value, rel=1e-5, abs=1e-7), stat
        shares = module.last_branch_share.tolist()
        for branch, share in zip(module.branches, shares):
            assert last[f'ba2m/{name}/share_{branch}'] == pytest.approx(share)
        assert sum(last[f'ba2m/{name}/share_{b}'] for b in module.branches) == pytest.approx(1)
    assert 'ba2m/block.ba2m/share_channel' not in last  # branch not enabled
    assert last['ba2m/stage1/w_min'] <= 1 / 4 <= last['ba2m/stage1/w_max']  # softmax, N=4
    assert last['ba2m/block.ba2m/w_min'] <= 1 <= last['ba2m/block.ba2m/w_max']  # scaled: mean 1

    log_file = glob(osp.join(str(tmp_path), '*', '*.log'))[0]
    with open(log_file) as f:
        text = f.read()
    assert 'BA2M stage1 iter 6: N=4' in text
    assert 'BA2M block.ba2m iter 3' in text

    out = plot_ba2m_weights.main([str(tmp_path)])
    assert out == osp.join(str(tmp_path), 'ba2m_weights.png')
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    series, _ = plot_ba2m_weights.load_ba2m_scalars(str(tmp_path))
    assert sorted(series) == ['block.ba2m', 'stage1']
    assert [s for s, _ in series['stage1']['entropy_norm']] == [3, 6]


def test_hook_unwraps_wrapper_and_skips_idle_modules():
    model = ToyBA2MNet()

    class Wrapper(nn.Module):  # stands in for MMDistributedDataParallel

        def __init__(self, module):
            super().__init__()
            self.module = module

    from mmengine.registry import MODEL_WRAPPERS
    MODEL_WRAPPERS.register_module(name='_TestWrapper', module=Wrapper, force=True)
    found = BA2MWeightHook.find_ba2m_modules(Wrapper(model))
    assert [name for name, _ in found] == ['stage1', 'block.ba2m']
    assert found[0][1] is model.ba2m1


def test_plot_tool_clear_error_without_scalars(tmp_path):
    with pytest.raises(FileNotFoundError, match='no BA2M weight scalars'):
        plot_ba2m_weights.load_ba2m_scalars(str(tmp_path))


@pytest.mark.parametrize('position, names', [
    ('between', ['layer1', 'layer2', 'layer3', 'layer4']),
    ('inside', ['layer1.0', 'layer1.1', 'layer2.0', 'layer2.1']),
])
def test_hook_with_ba2m_resnet_classifier(tmp_path, position, names):
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    stages = (True, ) * 4 if position == 'between' else (True, True, False, False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=dict(
                    type='BA2MResNet',
                    depth=18,
                    base_channels=4,
                    stem_channels=4,
                    ba2m_stages=stages,
                    ba2m_position=position,
                    ba2m_cfg=dict(reduction=2, normalize='scaled_softmax')),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead',
                    num_classes=3,
                    in_channels=32,
                    loss=dict(type='CrossEntropyLoss'))))
    g = torch.Generator().manual_seed(0)
    data = [
        dict(
            inputs=torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8),
            data_samples=DataSample().set_gt_label(i % 3)) for i in range(8)
    ]
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(data, batch_size=4, collate_fn=pseudo_collate),
        train_cfg=dict(by_epoch=False, max_iters=2, val_interval=1000),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1000)),
        custom_hooks=[dict(type='BA2MWeightHook', interval=2)],
        experiment_name=f'test_ba2m_weight_hook_{position}')
    runner.train()
    record = [r for r in read_scalars(str(tmp_path)) if any(k.startswith('ba2m/') for k in r)]
    assert len(record) == 1 and record[0]['step'] == 2
    logged = sorted({k.split('/')[1] for k in record[0] if k.startswith('ba2m/')})
    assert logged == names
    modules = dict(BA2MWeightHook.find_ba2m_modules(model))
    for name in names:
        weights = modules[name].last_weights
        assert weights.sum() == pytest.approx(4)  # scaled_softmax: mean weight 1
        for stat, value in reference_stats(weights).items():
            assert record[0][f'ba2m/{name}/{stat}'] == pytest.approx(value, rel=1e-5, abs=1e-7)
        assert record[0][f'ba2m/{name}/share_local'] == pytest.approx(
            float(modules[name].last_branch_share[1]))
