"""What a benchmark runs: settings, their per-device defaults, goals, and
which settings and models this machine can run."""
import importlib.util
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .comparison_models import MMDET_PLUGIN_MODELS, MODELS_ALL

# Goals (reported, not asserted): BA2M (default config) / plain. CPU: no regression past
# 1.15 (classification) and 1.20 (detection, and the CIFAR-10 testbed: issue 25);
# CUDA: a training step at most 1.10x the plain one.
GOALS = {
    'cls': dict(train=1.15, infer=1.01),
    'det': dict(train=1.20, infer=1.01),
    'det-backbone': dict(train=1.20, infer=1.01),
    'testbed': dict(train=1.20, infer=1.01),
}

GOALS_CUDA = {s: dict(train=1.10, infer=1.01) for s in GOALS}

SETTINGS = {
    'cls':
    dict(batch=8, shape=(224, 224), rounds=5, steps=3, warmup=2, models=MODELS_ALL),
    'det':
    dict(
        batch=2,
        shape=(800, 1333),
        rounds=2,
        steps=1,
        warmup=1,
        models=tuple(m for m in MODELS_ALL if m != 'ba2m-exact')),
    # 800x1333 padded to a multiple of 32, as mmdet's data preprocessor does.
    'det-backbone':
    dict(batch=2, shape=(800, 1344), rounds=2, steps=1, warmup=1, models=('plain', 'ba2m-auto')),
    # The CIFAR-10 testbed's classifiers (configs/resnet18_cifar10_testbed.py and its BA2M
    # twin) at their batch: ResNet-18-CIFAR widths 16-128, 256 images of 32x32.
    'testbed':
    dict(batch=256, shape=(32, 32), rounds=5, steps=1, warmup=1, models=('plain', 'ba2m-auto')),
}

# CUDA: the per-GPU batches of the configs (8xb32 classification, 2 images per GPU in
# detection) and more rounds (a step takes milliseconds, not seconds).
SETTINGS_CUDA = {
    'cls': dict(SETTINGS['cls'], batch=32, rounds=10, steps=5, warmup=5),
    'det': dict(SETTINGS['det'], rounds=5, steps=3, warmup=3),
    'det-backbone': dict(SETTINGS['det-backbone'], rounds=10, steps=5, warmup=5),
    'testbed': dict(SETTINGS['testbed'], rounds=10, steps=5, warmup=5),
}

# --profile: steps profiled after the warm-up (per model), by device.
PROFILE_STEPS = dict(cpu=dict(warmup=1, steps=2), cuda=dict(warmup=3, steps=5))

PROFILE_SETTINGS = ('det-backbone', 'cls')

DEFAULT_BA2M = {
    'cls': 'ba2m-auto',
    'det': 'ba2m-auto',
    'det-backbone': 'ba2m-auto',
    'testbed': 'ba2m-auto'
}

# --fast-paths: the four precision / memory-format settings, as (bf16 autocast, channels_last).
FAST_PATHS = {
    'fp32': (False, False),
    'bf16': (True, False),
    'fp32+cl': (False, True),
    'bf16+cl': (True, True),
}


def setting_spec(setting: str,
                 device: torch.device,
                 batch: Optional[int] = None,
                 shape: Optional[Tuple[int, int]] = None) -> dict:
    """Batch, shape, rounds, steps, warm-up and models of ``setting`` on
    ``device`` (CUDA: per-GPU batches), with ``batch``/``shape`` overrides."""
    spec = dict((SETTINGS_CUDA if device.type == 'cuda' else SETTINGS)[setting])
    if batch is not None:
        spec['batch'] = batch
    if shape is not None:
        spec['shape'] = tuple(shape)
    return spec


def mmdet_stack(device: torch.device) -> Tuple[bool, bool, str]:
    """Whether mmdet models can be built here, and whether full detectors can
    run on ``device``.

    Returns:
        tuple: ``(mmdet_ok, det_ok, reason)``. ``mmdet_ok``: mmdet is
        installed and mmcv has its compiled ops (mmdet imports them).
        ``det_ok``: also, on CUDA, mmcv's ops were compiled with CUDA (nms
        and RoIAlign run on the GPU). ``reason`` says what is missing.
    """
    if importlib.util.find_spec('mmdet') is None:
        return False, False, 'mmdet is not installed'
    try:
        from mmcv.ops import get_compiling_cuda_version
    except (ImportError, OSError) as e:
        return False, False, (f'mmcv has no compiled ops (mmcv-lite?): {type(e).__name__}: '
                              f'{str(e)[:200]}')
    cuda_version = get_compiling_cuda_version()
    if device.type == 'cuda' and cuda_version == 'not available':
        return True, False, ("mmcv's ops were compiled without CUDA (get_compiling_cuda_version"
                             "() = 'not available'): nms/RoIAlign cannot run on the GPU")
    return True, True, f'mmcv ops compiled with CUDA {cuda_version}'


def resolve_settings(device: torch.device,
                     settings: Optional[Sequence[str]] = None,
                     models: Optional[Sequence[str]] = None,
                     profile: bool = False,
                     amp: bool = False) -> Tuple[List[str], Dict[str, List[str]]]:
    """Settings and models to run. On CUDA, what needs mmdet or mmcv's CUDA ops
    is left out of the defaults with a message, and refused when asked for.

    Args:
        device (torch.device): Where the benchmark runs.
        settings (Sequence[str], optional): Settings asked for (``--settings``);
            None for the defaults of ``device`` (or of ``profile``).
        models (Sequence[str], optional): Models asked for (``--models``);
            None for each setting's defaults.
        profile (bool): Defaults for ``--profile``. Defaults to False.
        amp (bool): bfloat16 mixed precision (``--amp``). Defaults to False.

    Returns:
        tuple: settings, and ``{setting: models}``.
    """
    asked_settings, asked_models = settings, models
    if asked_settings:
        settings = list(dict.fromkeys(asked_settings))
    elif profile:
        settings = list(PROFILE_SETTINGS)
    else:
        settings = ['cls', 'det-backbone', 'det'] if device.type == 'cuda' else ['cls', 'det']
    models = {}
    for setting in settings:
        if asked_models:
            names = list(dict.fromkeys(asked_models))
        elif profile:
            names = ['plain', DEFAULT_BA2M[setting]]
        else:
            names = list(SETTINGS[setting]['models'])
        if setting in ('det-backbone', 'testbed'):
            dropped = [n for n in names if n in MMDET_PLUGIN_MODELS]
            if dropped:
                print(
                    f'{setting}: {dropped} left out (mmdet ResNet plugins; compare them '
                    'with --settings cls or det)',
                    flush=True)
            names = [n for n in names if n not in MMDET_PLUGIN_MODELS]
        models[setting] = names
    if device.type != 'cuda':
        return settings, models
    mmdet_ok, det_ok, reason = mmdet_stack(device)
    print(f'mmdet / mmcv ops: {reason}', flush=True)
    if 'det' in settings and not det_ok:
        if asked_settings:
            raise SystemExit(
                f'--settings det on {device}: the full Faster R-CNN needs mmdet and mmcv\'s CUDA '
                f'ops, and {reason}. Install mmcv with CUDA ops (FORCE_CUDA=1 bash '
                'tools/install.sh) or measure the backbone with --settings cls det-backbone.')
        print(
            f'det left out: {reason}; running backbone-level and mmpretrain settings only '
            '(det-backbone, cls)',
            flush=True)
        settings.remove('det')
        models.pop('det')
    if 'det' in settings and amp:
        why = ("mmcv 2.1's CUDA RoIAlign has no bfloat16 kernel (float, double, half only)")
        if asked_settings:
            raise SystemExit(f'--amp with --settings det on {device}: {why}; time det in fp32, '
                             'or the backbone with --settings det-backbone --amp')
        print(f'det left out with --amp: {why}', flush=True)
        settings.remove('det')
        models.pop('det')
    for setting in settings:
        plugins = [n for n in models[setting] if n in MMDET_PLUGIN_MODELS]
        if plugins and not mmdet_ok:
            if asked_models:
                raise SystemExit(f'--models {plugins}: mmdet ResNet plugins need mmdet and '
                                 f'mmcv\'s compiled ops, and {reason}')
            print(f'{setting}: {plugins} left out ({reason})', flush=True)
            models[setting] = [n for n in models[setting] if n not in plugins]
    return settings, models
