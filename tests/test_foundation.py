"""The installed stack and the registration contract."""
import importlib.util
import subprocess
import sys

import pytest


def run_python(code):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)


def test_package_imports_with_version():
    import ba2m_mm
    assert ba2m_mm.__version__.count('.') == 2


def test_mmcv_has_compiled_ops():
    import mmcv
    assert mmcv.__version__ == '2.1.0'
    assert importlib.util.find_spec('mmcv._ext') is not None
    import torch
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    feats = torch.arange(16.).view(1, 1, 4, 4)
    out = RoIAlign((1, 1), spatial_scale=1.0, sampling_ratio=1,
                   aligned=False)(feats, torch.tensor([[0., 0., 0., 3., 3.]]))
    assert out.shape == (1, 1, 1, 1)


def test_mmengine_checkpoints_load_through_the_safe_loader(tmp_path):
    """``ba2m_mm.setup_runtime()`` makes mmengine load checkpoints with weights_only=True
    and the allow-list (a HistoryBuffer, as in every Runner checkpoint, is on it)."""
    import torch
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import load_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader

    import ba2m_mm
    ba2m_mm.setup_runtime()
    path = tmp_path / 'ckpt.pth'
    layer = torch.nn.Linear(2, 2)
    buffer = HistoryBuffer()
    buffer.update(1.5)
    torch.save({'state_dict': layer.state_dict(), 'message_hub': buffer}, path)
    assert CheckpointLoader._get_checkpoint_loader(str(path)).__module__ == \
        'ba2m_mm.checkpoint.mmengine_schemes'
    loaded = load_checkpoint(torch.nn.Linear(2, 2), str(path))
    assert loaded['message_hub'].mean() == 1.5


@pytest.mark.parametrize('scope', ['mmdet', 'mmpretrain'])
def test_registrations_resolve_from_each_scope(scope):
    from mmengine.registry import HOOKS
    from mmengine.registry import MODELS as ROOT
    from mmengine.registry import DefaultScope

    import ba2m_mm  # noqa: F401
    registry = importlib.import_module(f'{scope}.registry').MODELS
    assert registry.get('BA2MResNet') is not None
    assert registry.get('BA2M') is ROOT.get('BA2M')
    assert HOOKS.get('BA2MWeightHook') is not None
    # string lookup through a scope, as configs do
    with DefaultScope.overwrite_default_scope(scope):
        assert registry.build(dict(type='BA2M', in_channels=8, reduction=2)) is not None


@pytest.mark.parametrize('missing, present', [('mmpretrain', 'mmdet'), ('mmdet', 'mmpretrain')])
def test_import_with_only_one_library(missing, present):
    code = f'''
import sys
sys.modules[{missing!r}] = None  # as if not installed
import ba2m_mm
from {present}.registry import MODELS
assert MODELS.get('BA2MResNet') is not None
print('ok')
'''
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('ok')


def test_errors_inside_our_modules_are_not_swallowed():
    code = '''
import sys
sys.modules['ba2m_mm.models.backbones.mmdet_ba2m_resnet'] = None  # a broken module of ours
import ba2m_mm
'''
    result = run_python(code)
    assert result.returncode != 0
    assert 'mmdet_ba2m_resnet' in result.stderr
