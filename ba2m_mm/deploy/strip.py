"""Strip BA2M from a trained detector: plain mmdet checkpoint and config
(``tools/deploy/strip_ba2m.py``).

BA2M is the identity at inference (paper Section III-D), so a trained ``BA2MResNet``
(``BA2MResNeXt``) detector predicts exactly what the same network with plain mmdet
``ResNet`` (``ResNeXt``) predicts.
"""
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch
from mmengine.config import Config

from ba2m_mm.checkpoint import (InvalidCheckpointError, checkpoint_dict, load_checkpoint_file,
                                load_weights, state_dict_of)

# Naming contract of BA2MResNet: 'between' -> backbone.ba2m{i}.*,
# 'inside' -> backbone.layer{i}.{j}.ba2m.* (optionally behind a wrapper prefix).
BA2M_KEY = re.compile(r'(^|\.)backbone\.(ba2m\d+|layer\d+\.\d+\.ba2m)\.')
BA2M_BACKBONES = ('BA2MResNet', 'BA2MResNeXt')  # mmdet's; same key naming
BA2M_ARGS = ('ba2m_stages', 'ba2m_cfg', 'ba2m_position')
PACKAGE = 'ba2m_mm'


def strip_state_dict(state_dict: Dict[str, torch.Tensor]) -> Tuple[OrderedDict, List[str]]:
    """Drop the BA2M entries of a detector state dict.

    Args:
        state_dict (dict): Detector state dict (``backbone.*``, ``neck.*`` ...).

    Returns:
        tuple[OrderedDict, list[str]]: The state dict without BA2M entries,
        and the removed keys.
    """
    kept, removed = OrderedDict(), []
    for key, value in state_dict.items():
        if BA2M_KEY.search(key):
            removed.append(key)
        else:
            kept[key] = value
    return kept, removed


def _without_package(imports):
    imports = [imports] if isinstance(imports, str) else list(imports)
    return [m for m in imports if m != PACKAGE and not m.startswith(PACKAGE + '.')]


def strip_config(cfg: Config) -> Config:
    """Config of the same detector with plain mmdet ResNet (ResNeXt) and no ba2m_mm.

    Args:
        cfg (Config): Config whose ``model.backbone`` is a ``BA2MResNet`` or
            ``BA2MResNeXt``.

    Returns:
        Config: A new, fully merged config (no ``_base_``, no ``work_dir``).

    Raises:
        ValueError: If ``model.backbone.type`` is not a BA2M backbone.
    """
    cfg = Config(cfg.to_dict())  # deep copy, inheritance already merged
    backbone = cfg.model.backbone
    if backbone.get('type') not in BA2M_BACKBONES:
        raise ValueError(f'strip_ba2m: model.backbone.type must be one of {BA2M_BACKBONES}, '
                         f'got {backbone.get("type")!r}; nothing to strip')
    backbone.type = backbone.type[len('BA2M'):]  # the upstream class, e.g. 'ResNeXt'
    for arg in BA2M_ARGS:
        backbone.pop(arg, None)
    if 'custom_imports' in cfg:
        imports = _without_package(cfg.custom_imports.get('imports', []))
        if imports:
            cfg.custom_imports.imports = imports
        else:
            cfg.pop('custom_imports')
    # BA2M options a base shares through a top-level variable (configs/_base_/
    # ba2m_det_backbone.py): already merged into the backbone, which has none now.
    for key in [k for k in cfg if k.startswith('ba2m_')]:
        cfg.pop(key)
    # The source run's work_dir: a run of the stripped config writes to its own folder
    # (./work_dirs/<config name>, as the tools resolve a config without work_dir).
    cfg.pop('work_dir', None)
    if cfg.get('custom_hooks'):
        cfg.custom_hooks = [
            h for h in cfg.custom_hooks if not str(h.get('type')).startswith('BA2M')
        ]
    return cfg


def strip_ba2m(checkpoint: str, out: str, config: str = None, verify: bool = True) -> Dict:
    """Write the stripped checkpoint ``out`` and config ``out`` with ``.py``.

    Args:
        checkpoint (str): Trained BA2M checkpoint.
        out (str): Output checkpoint path (``.pth``).
        config (str, optional): Training config. Defaults to None (the
            config stored in ``checkpoint['meta']['cfg']``).
        verify (bool): Build the plain model from the written config and load
            the stripped weights with ``strict=True``. Defaults to True.

    Returns:
        dict: ``checkpoint``, ``config`` (written paths), ``removed_keys``
        and ``removed_params`` (number of values removed).
    """
    ckpt = checkpoint_dict(load_checkpoint_file(checkpoint, map_location='cpu'), checkpoint)
    state_dict = state_dict_of(ckpt, checkpoint)
    meta = (ckpt.get('meta', None) or {}) if 'state_dict' in ckpt else {}
    if not isinstance(meta, dict):
        raise InvalidCheckpointError(checkpoint,
                                     f"has a 'meta' that is a {type(meta).__name__}, not a dict")
    meta = dict(meta)
    if config is not None:
        cfg = Config.fromfile(config)
    elif isinstance(meta.get('cfg', None), str):
        cfg = Config.fromstring(meta['cfg'], file_format='.py')
    else:
        raise ValueError(f'strip_ba2m: {checkpoint} stores no config (meta.cfg); pass --config')
    plain_cfg = strip_config(cfg)
    kept, removed = strip_state_dict(state_dict)
    base = out[:-4] if out.endswith('.pth') else out
    cfg_path = base + '.py'
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    plain_cfg.dump(cfg_path)
    meta['cfg'] = plain_cfg.pretty_text
    torch.save(dict(meta=meta, state_dict=kept), out)
    if verify:
        try:
            load_plain_detector(cfg_path, out)
        except InvalidCheckpointError as e:
            os.remove(out)
            os.remove(cfg_path)
            source = config or 'the config in its meta'
            raise InvalidCheckpointError(
                checkpoint, f'does not fit {source} after stripping BA2M: {e.problem}') from None
    return dict(
        checkpoint=out,
        config=cfg_path,
        removed_keys=removed,
        removed_params=sum(state_dict[k].numel() for k in removed
                           if torch.is_tensor(state_dict[k])))


def load_plain_detector(config: str, checkpoint: str) -> torch.nn.Module:
    """Build the detector of ``config`` (plain mmdet modules) and load ``checkpoint``
    with ``strict=True``.

    Raises:
        InvalidCheckpointError: On any missing or unexpected key or other shape.
    """
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(Config.fromfile(config).model)
    load_weights(model, checkpoint, map_location='cpu', strict=True)
    return model.eval()
