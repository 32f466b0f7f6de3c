"""Check the checkpoint a test or a resume loads (``CheckpointCheckHook``)."""
from mmengine.config import Config


def _add_hook(cfg: Config, resume: bool) -> None:
    hooks = list(cfg.get('custom_hooks', None) or [])
    if any(h.get('type') == 'CheckpointCheckHook' for h in hooks):
        return
    cfg.custom_hooks = hooks + [dict(type='CheckpointCheckHook', resume=resume)]


def check_tested_checkpoint(cfg: Config) -> None:
    """tools/test.py: fail, naming the file and the tensors, when the checkpoint's tensors
    do not fit the config's model (mmengine only logs it and tests a partly initialised
    model).

    Args:
        cfg (Config): The loaded config; ``custom_hooks`` is extended in place.
    """
    _add_hook(cfg, resume=False)


def check_resumed_checkpoint(cfg: Config) -> None:
    """tools/train.py ``--resume``: also require the training state. Does nothing without
    ``resume`` (``load_from`` alone fine-tunes, where other shapes are expected and
    mmengine skips those tensors).

    Args:
        cfg (Config): The loaded config; ``custom_hooks`` is extended in place.
    """
    if cfg.get('resume', False):
        _add_hook(cfg, resume=True)
