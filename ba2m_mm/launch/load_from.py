"""Which checkpoint the Runner loads: ``--resume [PATH]`` of tools/train.py and the
``CHECKPOINT`` of tools/test.py, as mmengine's ``load_from``/``resume`` options."""
import os.path as osp
from typing import Optional

from mmengine.config import Config


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume``: as mmdet's ``tools/train.py``.

    ``'auto'`` (``--resume`` without a path) resumes from the latest
    checkpoint in ``work_dir``; a path resumes from that file; None keeps the
    config's ``resume``/``load_from``.

    Args:
        cfg (Config): The loaded config; modified in place.
        resume (str, optional): The value of ``--resume``.
    """
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume


def set_test_checkpoint(cfg: Config, checkpoint: str) -> None:
    """Make the Runner load ``checkpoint`` before testing.

    Args:
        cfg (Config): The loaded config; modified in place.
        checkpoint (str): A local file or a URL (``scheme://``).

    Raises:
        FileNotFoundError: If ``checkpoint`` is a local path that does not exist.
    """
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r}: no such file.')
    cfg.load_from = checkpoint
