"""Parameters and FLOPs of a model, deployed and in training.

BA2M is the identity in eval mode, so a deployed BA2M model costs exactly what
the plain network costs. In training it weights every sample of the batch,
and its three attention branches cost extra FLOPs. Both are counted by
``mmengine.analysis.FlopAnalyzer`` (one multiply-add = one FLOP, the
convention of the paper's tables):

- deployed: ``model.eval()``, one image;
- training: ``model.train()``, a batch of ``train_batch`` images (BA2M needs
  at least 2), divided per image. BatchNorm layers in training mode count a
  few more FLOPs than in eval mode, for the plain network too, so compare
  training FLOPs with training FLOPs.
"""
import warnings
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope

DET_SHAPE = (800, 1280)  # (H, W): mmdet's usual "1280x800" FLOPs input

CLS_SHAPE = (224, 224)


def sdpa_flop_jit(inputs: List, outputs: List) -> int:
    """FlopAnalyzer handle for ``scaled_dot_product_attention`` (BA2M's global
    branch), which mmengine does not count: ``Q K^T`` and ``softmax(.) V`` are
    two batched matmuls, ``prod(batch) * M * L * (d + d_v)`` multiply-adds for
    queries (..., M, d), keys (..., L, d) and values (..., L, d_v)."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = 1
    for size in q[:-2]:
        batch *= size
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def sample_attention_flop_jit(inputs: List, outputs: List) -> int:
    """FlopAnalyzer handle for BA2M's fused SAR node (``SampleAttention``, a
    Python autograd Function that the tracer cannot look into): the BN-scaled
    ``W h`` of every branch, ``B * N * C * d`` multiply-adds for pooled hidden
    units (B, N, d) and weights (B, C, d); the max and mean are not counted."""
    from mmengine.analysis.jit_handles import get_shape
    (num_branches, n, hidden), channels = get_shape(inputs[4]), get_shape(inputs[5])[1]
    return num_branches * n * channels * hidden


SDPA_OPS = ('aten::scaled_dot_product_attention', 'aten::_scaled_dot_product_flash_attention',
            'aten::_scaled_dot_product_flash_attention_for_cpu',
            'aten::_scaled_dot_product_efficient_attention')

# Cheap element-wise / indexing ops without a FlopAnalyzer handle (listed last).
NEGLIGIBLE = ('aten::add', 'aten::add_', 'aten::mul', 'aten::mul_', 'aten::div', 'aten::sub',
              'aten::relu', 'aten::relu_', 'aten::sigmoid', 'aten::softmax', 'aten::mean',
              'aten::max', 'aten::max_pool2d', 'aten::bincount', 'aten::exp', 'aten::sum',
              'aten::numel', 'aten::rsqrt_', 'aten::var_mean', 'aten::reciprocal', 'aten::lerp_',
              'aten::clamp')


def ba2m_module_paths(model: nn.Module) -> List[str]:
    """Paths of the BA2M modules of ``model`` (not nested in another BA2M)."""
    from ba2m_mm.models.layers import BA2M
    return [name for name, m in model.named_modules() if isinstance(m, BA2M)]


def dummy_inputs(model: nn.Module, shape: Tuple[int, int], batch: int):
    """Random inputs and, for detectors, the data samples ``_forward`` needs."""
    h, w = shape
    inputs = torch.rand(batch, 3, h, w)
    data_samples = None
    try:
        from mmdet.models.detectors import BaseDetector
        from mmdet.structures import DetDataSample
    except ImportError:  # pragma: no cover - mmdet not installed
        BaseDetector = None
    if BaseDetector is not None and isinstance(model, BaseDetector):
        meta = dict(
            img_shape=(h, w),
            ori_shape=(h, w),
            pad_shape=(h, w),
            batch_input_shape=(h, w),
            scale_factor=(1.0, 1.0))
        data_samples = [DetDataSample(metainfo=meta) for _ in range(batch)]
    return inputs, data_samples


def analyze(model: nn.Module,
            shape: Tuple[int, int],
            batch: int = 1,
            training: bool = False) -> Dict:
    """FLOPs of one forward in ``mode='tensor'`` (mmdet's ``_forward``).

    Args:
        model (nn.Module): An mmdet/mmpretrain model (or any module whose
            forward takes a (N, 3, H, W) tensor).
        shape (tuple[int, int]): Input (H, W).
        batch (int): Batch size; FLOPs are returned per image. Defaults to 1.
        training (bool): Analyse in training mode. Defaults to False.

    Returns:
        dict: ``flops`` and ``ba2m_flops`` per image, ``unsupported`` ops
        (name -> count) and ``ba2m_called`` (BA2M modules that ran ops).
    """
    model.train(training)
    inputs, data_samples = dummy_inputs(model, shape, batch)
    forward = model.forward
    if 'mode' in forward.__code__.co_varnames:
        model.forward = partial(forward, data_samples=data_samples, mode='tensor')
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            analyzer = FlopAnalyzer(model, (inputs, ))
            for op in SDPA_OPS:
                analyzer.set_op_handle(op, sdpa_flop_jit)
            analyzer.set_op_handle('prim::PythonOp.SampleAttention', sample_attention_flop_jit)
            analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analyzer.tracer_warnings('none')
            total = analyzer.total()
            by_module = analyzer.by_module()
            unsupported = dict(analyzer.unsupported_ops())
    finally:
        if 'forward' in model.__dict__:
            del model.forward
        model.eval()
    paths = ba2m_module_paths(model)
    return dict(
        flops=total / batch,
        ba2m_flops=sum(by_module.get(p, 0) for p in paths) / batch,
        unsupported=unsupported,
        num_ba2m=len(paths))


def count_params(model: nn.Module) -> Tuple[int, int]:
    """Total parameters and the parameters inside BA2M modules."""
    counts = parameter_count(model)
    return counts[''], sum(counts.get(p, 0) for p in ba2m_module_paths(model))


def build_model(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` in the config's default scope, without loading weights."""
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    import ba2m_mm  # noqa: F401  registers BA2M, BA2MResNet
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    return revert_sync_batchnorm(model)


def default_shape(model: nn.Module) -> Tuple[int, int]:
    try:
        from mmdet.models.detectors import BaseDetector
        if isinstance(model, BaseDetector):
            return DET_SHAPE
    except ImportError:  # pragma: no cover
        pass
    return CLS_SHAPE


def complexity(model: nn.Module,
               shape: Optional[Sequence[int]] = None,
               train_batch: int = 2) -> Dict:
    """Parameters, deployed FLOPs and training FLOPs of ``model``.

    Returns:
        dict: ``params``, ``ba2m_params``, ``eval`` and ``train`` (results of
        :func:`analyze`), ``shape`` (H, W).
    """
    shape = tuple(shape) if shape else default_shape(model)
    params, ba2m_params = count_params(model)
    result = dict(
        shape=shape,
        params=params,
        ba2m_params=ba2m_params,
        eval=analyze(model, shape, batch=1, training=False))
    result['train'] = analyze(model, shape, batch=train_batch, training=True)
    return result


def describe(result: Dict, name: str) -> str:
    ev, tr = result['eval'], result['train']
    h, w = result['shape']
    lines = [
        '=' * 72,
        f'Model: {name}',
        f'Input shape: (3, {h}, {w}); BA2M modules: {ev["num_ba2m"]}',
        f'Params: {result["params"] / 1e6:.2f} M (of which BA2M: '
        f'{result["ba2m_params"] / 1e6:.3f} M)',
        f'FLOPs deployed (eval mode, BA2M = identity): {ev["flops"] / 1e9:.3f} G'
        f' (BA2M: {ev["ba2m_flops"] / 1e9:.3f} G)',
        f'FLOPs in training (train mode, per image): {tr["flops"] / 1e9:.3f} G (BA2M: '
        f'{tr["ba2m_flops"] / 1e9:.3f} G = {100 * tr["ba2m_flops"] / tr["flops"]:.1f}%)',
    ]
    ops = dict(ev['unsupported'])
    ops.update(tr['unsupported'])
    if ops:
        # Listed in full; most are element-wise/indexing ops FlopAnalyzer never counts.
        ordered = sorted(ops.items(), key=lambda kv: (kv[0] in NEGLIGIBLE, kv[0]))
        lines.append('Ops without a FlopAnalyzer handle (not counted): ' +
                     ', '.join(f'{k} x{v}' for k, v in ordered))
    lines += [
        'Notes: 1 FLOP = 1 multiply-add (mmengine.analysis, as in the paper). BA2M is the '
        'identity at inference, so deployed FLOPs equal the plain network\'s. Training FLOPs '
        'are those of a train-mode forward, per image (BatchNorm counts more in train mode).',
        '=' * 72,
    ]
    return '\n'.join(lines)
