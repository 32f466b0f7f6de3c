"""Safe loading for every checkpoint mmengine loads, through its ``CheckpointLoader``.

mmengine reads checkpoints with ``CheckpointLoader``, which picks a loader by the path's
prefix. Its own loaders call ``torch.load(..., weights_only=False)``.
:func:`register_safe_loaders` (called by :func:`ba2m_mm.setup_runtime`, not by ``import
ba2m_mm``) registers, with ``force=True``, loaders that resolve the path exactly as
mmengine's do and then read the file with
:func:`~ba2m_mm.checkpoint.safe_load.load_checkpoint_file`, for local paths,
``http(s)://`` and ``torchvision://``/``modelzoo://``. So the Runner's ``load_from`` and
``resume``, ``init_cfg=dict(type='Pretrained', ...)`` and
``mmengine.runner.load_checkpoint`` all load safely. Every loader also checks that the file
holds a dict with model weights (:func:`~ba2m_mm.checkpoint.validate.state_dict_of`).

The other prefixes mmengine knows (``open-mmlab://``, ``mmcls://``, ``s3://``/
``petrel://``, ``pavi://``) are refused with :class:`UnsupportedCheckpointSource` (download
the file and pass its path), unless unsafe loading is opted in (``--unsafe-load``,
``BA2M_MM_UNSAFE_LOAD=1``): then mmengine's own loader reads them.
"""
import logging
import os
import os.path as osp
from typing import Optional
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, get_torchvision_models

from .safe_load import load_checkpoint_file
from .unsafe_opt_in import UNSAFE_LOAD_ENV, unsafe_load_allowed
from .validate import state_dict_of


def _checked(checkpoint, name: str) -> dict:
    state_dict_of(checkpoint, name)  # raises InvalidCheckpointError, naming the file
    return checkpoint


def load_from_local_safely(filename: str, map_location=None) -> dict:
    """A local file (mmengine's ``load_from_local``, loaded safely)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return _checked(load_checkpoint_file(filename, map_location), filename)


def _download(url: str, model_dir: Optional[str], progress: bool) -> str:
    """The file of ``url`` in torch.hub's cache, downloaded if missing (as
    ``torch.hub.load_state_dict_from_url``, without loading it)."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        torch.hub.download_url_to_file(url, cached, None, progress=progress)
    return cached


def load_from_http_safely(filename: str,
                          map_location=None,
                          model_dir: Optional[str] = None,
                          progress: bool = os.isatty(0)) -> dict:
    """A URL: downloaded to torch.hub's cache by local rank 0 first, as mmengine's
    ``load_from_http``, then loaded safely."""
    rank, world_size = get_dist_info()
    if rank == 0:
        cached = _download(filename, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            cached = _download(filename, model_dir, progress)
    name = f'{filename} (cached as {cached})'
    return _checked(load_checkpoint_file(cached, map_location, name=name), name)


def load_from_torchvision_safely(filename: str, map_location=None) -> dict:
    """``torchvision://NAME`` (and the deprecated ``modelzoo://NAME``)."""
    model_urls = get_torchvision_models()
    if filename.startswith('modelzoo://'):
        print_log(
            'The URL scheme of "modelzoo://" is deprecated, please use "torchvision://" instead',
            logger='current',
            level=logging.WARNING)
        model_name = filename[len('modelzoo://'):]
    else:
        model_name = filename[len('torchvision://'):]
    return load_from_http_safely(model_urls[model_name], map_location=map_location)


class UnsupportedCheckpointSource(ValueError):
    """A checkpoint prefix that ba2m_mm cannot load safely (see the module's doc)."""


#: The prefixes refused without the unsafe opt-in, with mmengine's loader for each.
REFUSED_PREFIXES = {
    ('open-mmlab://', 'openmmlab://'): 'load_from_openmmlab',
    'mmcls://': 'load_from_mmcls',
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): 'load_from_ceph',
    'pavi://': 'load_from_pavi',
}


def _refusing_loader(mmengine_loader: str):

    def load_refused_source(filename: str, map_location=None, *args, **kwargs) -> dict:
        """Refused: ba2m_mm loads only local, http(s):// and torchvision:// safely."""
        if unsafe_load_allowed():
            loader = getattr(mmengine_checkpoint, mmengine_loader)
            return loader(filename, map_location, *args, **kwargs)
        raise UnsupportedCheckpointSource(
            f'{filename}: ba2m_mm loads checkpoints safely only from a local path, '
            'http(s):// or torchvision://. Download the file and pass its path, or opt in '
            f'to unsafe loading for a trusted file (--unsafe-load, {UNSAFE_LOAD_ENV}=1).')

    return load_refused_source


def register_safe_loaders() -> None:
    """Register the safe loaders (and the refusing ones) in mmengine's
    ``CheckpointLoader`` (idempotent)."""
    register = CheckpointLoader.register_scheme
    register(prefixes='', loader=load_from_local_safely, force=True)
    register(prefixes=('http://', 'https://'), loader=load_from_http_safely, force=True)
    register(
        prefixes=('modelzoo://', 'torchvision://'), loader=load_from_torchvision_safely, force=True)
    for prefixes, mmengine_loader in REFUSED_PREFIXES.items():
        register(prefixes=prefixes, loader=_refusing_loader(mmengine_loader), force=True)
