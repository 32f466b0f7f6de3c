"""Safe loading for every checkpoint mmengine loads, through its ``CheckpointLoader``.

mmengine reads checkpoints with ``CheckpointLoader``, which picks a loader by the path's
prefix: local paths, ``http(s)://``, ``torchvision://``, ``open-mmlab://``, ``mmcls://``,
``s3://``/``petrel://``, ``pavi://``. Its own loaders call ``torch.load(...,
weights_only=False)``. Importing this module (``import ba2m_mm`` does) registers, with
``force=True``, a loader for each of those prefixes that resolves the path exactly as
mmengine's does and then reads the file with
:func:`~ba2m_mm.checkpoint.safe_load.load_checkpoint_file`. So the Runner's ``load_from``
and ``resume``, ``init_cfg=dict(type='Pretrained', ...)`` and
``mmengine.runner.load_checkpoint`` all load safely, also in mmdet's and mmpretrain's own
tools when a config has ``custom_imports=dict(imports=['ba2m_mm'])``.

Every loader also checks that the file holds a dict with model weights
(:func:`~ba2m_mm.checkpoint.validate.state_dict_of`).
"""
import io
import logging
import os
import os.path as osp
from tempfile import TemporaryDirectory
from typing import Optional
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import print_log
from mmengine.runner.checkpoint import (CheckpointLoader, _get_mmengine_home,
                                        _process_mmcls_checkpoint, get_deprecated_model_names,
                                        get_external_models, get_mmcls_models,
                                        get_torchvision_models)

from .safe_load import load_checkpoint_file
from .validate import state_dict_of


def _checked(checkpoint, name: str) -> dict:
    state_dict_of(checkpoint, name)  # raises InvalidCheckpointError, naming the file
    return checkpoint


@CheckpointLoader.register_scheme(prefixes='', force=True)
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


@CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), force=True)
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


@CheckpointLoader.register_scheme(prefixes=('modelzoo://', 'torchvision://'), force=True)
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


@CheckpointLoader.register_scheme(prefixes=('open-mmlab://', 'openmmlab://'), force=True)
def load_from_openmmlab_safely(filename: str, map_location=None) -> dict:
    """``open-mmlab://NAME``: a URL or a file in mmengine's home, from mmengine's table."""
    prefix = 'open-mmlab://' if filename.startswith('open-mmlab://') else 'openmmlab://'
    model_name = filename[len(prefix):]
    deprecated = get_deprecated_model_names()
    if model_name in deprecated:
        print_log(
            f'{prefix}{model_name} is deprecated in favor of {prefix}{deprecated[model_name]}',
            logger='current',
            level=logging.WARNING)
        model_name = deprecated[model_name]
    model_url = get_external_models()[model_name]
    if model_url.startswith(('http://', 'https://')):
        return load_from_http_safely(model_url, map_location=map_location)
    return load_from_local_safely(osp.join(_get_mmengine_home(), model_url), map_location)


@CheckpointLoader.register_scheme(prefixes='mmcls://', force=True)
def load_from_mmcls_safely(filename: str, map_location=None) -> dict:
    """``mmcls://NAME``: mmcls's model zoo, keys converted as mmengine does."""
    model_url = get_mmcls_models()[filename[len('mmcls://'):]]
    return _process_mmcls_checkpoint(load_from_http_safely(model_url, map_location=map_location))


@CheckpointLoader.register_scheme(prefixes=[r'(\S+\:)?s3://', r'(\S+\:)?petrel://'], force=True)
def load_from_ceph_safely(filename: str, map_location=None, backend: str = 'petrel') -> dict:
    """``s3://`` and ``petrel://``: the bytes through mmengine's file backend."""
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return _checked(load_checkpoint_file(buffer, map_location, name=filename), filename)


@CheckpointLoader.register_scheme(prefixes='pavi://', force=True)
def load_from_pavi_safely(filename: str, map_location=None) -> dict:
    """``pavi://``: downloaded with pavi's modelcloud to a temporary directory."""
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError('Please install pavi to load checkpoint from modelcloud.')
    model = modelcloud.get(filename[len('pavi://'):])
    with TemporaryDirectory() as tmp_dir:
        downloaded = osp.join(tmp_dir, model.name)
        model.download(downloaded)
        return _checked(load_checkpoint_file(downloaded, map_location, name=filename), filename)
