"""``--auto-scale-lr``: scale the learning rate with the total batch size."""
from mmengine.config import Config


def auto_scale_lr(cfg: Config) -> None:
    """``--auto-scale-lr``: as mmdet's ``tools/train.py``. The Runner then
    scales the lr by ``total batch size / auto_scale_lr.base_batch_size``.

    Args:
        cfg (Config): The loaded config; modified in place.

    Raises:
        RuntimeError: If the config has no ``auto_scale_lr.base_batch_size``.
    """
    scale = cfg.get('auto_scale_lr', None)
    if scale is None or 'enable' not in scale or 'base_batch_size' not in scale:
        raise RuntimeError('Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
                           '"auto_scale_lr.base_batch_size" in your configuration file.')
    cfg.auto_scale_lr.enable = True
