"""Load a checkpoint file with ``torch.load(..., weights_only=True)`` and the allow-list.

The one function that reads checkpoint files in this project: mmengine's ``CheckpointLoader``
schemes (``mmengine_schemes.py``: the Runner's ``load_from`` and resume, ``init_cfg``
pretrained weights), the deploy and publish tools and the analysis tools all call
:func:`load_checkpoint_file`. A file that needs anything beyond tensors, containers and
:mod:`~ba2m_mm.checkpoint.allow_list` is refused with :class:`UnsafeCheckpointError`, which
names the file and what it references, unless the user opted in
(:mod:`~ba2m_mm.checkpoint.unsafe_opt_in`).
"""
import logging
import pickle
import re
from typing import Any, BinaryIO, Callable, List, Optional, Union

import torch
from mmengine.logging import print_log

from .allow_list import safe_global_names, safe_globals
from .pickle_globals import pickle_globals
from .unsafe_opt_in import HOW_TO_OPT_IN, UNSAFE_LOAD_ENV, unsafe_load_allowed
from .validate import InvalidCheckpointError

MapLocation = Union[None, str, torch.device, Callable, dict]

# What torch's weights-only unpickler says when it refuses a global, a class to build or a
# function to call.
_TORCH_REFUSAL = re.compile(r'GLOBAL (\S+) (?:was not an allowed global|whose module)'
                            r"|but got <class '([^']+)'>"
                            r'|unrecognized function <(?:built-in function |function )?([^ >]+)')
_ALLOWED_BY_US = ('tensors, containers, numpy arrays and scalars, mmengine\'s HistoryBuffer')

# (id, name) of the checkpoint returned last, for errors raised by later checks.
_last_loaded = (None, None)


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The checkpoint's pickle references globals outside the allow-list.

    Attributes:
        filename (str): The checkpoint.
        refused (list[str]): The refused globals (``module.name``).
    """

    def __init__(self, filename: str, refused: List[str]):
        self.filename, self.refused = filename, refused
        what = ', '.join(repr(g) for g in refused)
        which = 'which is' if len(refused) == 1 else 'which are'
        super().__init__(
            f'ba2m_mm refused to load checkpoint {filename!r}: it references {what}, {which} '
            f'not on the safe-loading allow-list ({_ALLOWED_BY_US}). Loading it in full '
            f'could run code from the file. {HOW_TO_OPT_IN}')


def _allowed_names() -> set:
    names = set(safe_global_names())
    try:  # torch's own allow-list (tensors, storages, containers); private, so guarded
        from torch import _weights_only_unpickler
        names.update(_weights_only_unpickler._get_allowed_globals())
    except Exception:  # pragma: no cover - a torch without it: report every global
        pass
    return names


def refused_globals(f: Union[str, BinaryIO], torch_message: str = '') -> List[str]:
    """The globals of ``f`` that safe loading refuses.

    Args:
        f (str or file-like): The checkpoint.
        torch_message (str): torch's error, used when the pickle cannot be read statically.

    Returns:
        list[str]: ``module.name`` of each refused global; may be empty.
    """
    found = pickle_globals(f)
    if found:
        allowed = _allowed_names()
        refused = [g for g in found if g not in allowed]
        if refused:
            return refused
    names = [next(g for g in groups if g) for groups in _TORCH_REFUSAL.findall(torch_message)]
    return list(dict.fromkeys(names))


def _rewind(f):
    if not isinstance(f, str):
        f.seek(0)


def _torch_load(f, map_location, weights_only):
    if weights_only:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(f, map_location=map_location, weights_only=True)
    return torch.load(f, map_location=map_location, weights_only=False)


def load_checkpoint_file(f: Union[str, BinaryIO],
                         map_location: MapLocation = None,
                         name: Optional[str] = None) -> Any:
    """``torch.load(f, weights_only=True)`` with the project's allow-list.

    Args:
        f (str or file-like): A local file, or the bytes of one (seekable).
        map_location: As :func:`torch.load`. Defaults to None.
        name (str, optional): How to name ``f`` in errors and logs (e.g. the URL it was
            downloaded from). Defaults to ``f`` (a path) or ``f.name``.

    Returns:
        The loaded object, as ``torch.load`` returns it.

    Raises:
        UnsafeCheckpointError: The file references globals outside the allow-list and the
            user did not opt in.
        InvalidCheckpointError: The file is not a PyTorch checkpoint (empty, truncated, not a
            pickle or zip archive).
    """
    global _last_loaded
    name = name or (f if isinstance(f, str) else getattr(f, 'name', '<file object>'))
    try:
        checkpoint = _torch_load(f, map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        message = str(e)
        _rewind(f)
        if 'Weights only load failed' not in message:  # not a pickle at all
            raise InvalidCheckpointError(
                name, f'is not a PyTorch checkpoint (torch.load: {message.strip()})') from None
        refused = refused_globals(f, message)
        if not refused:
            if pickle_globals(f) is None:
                raise InvalidCheckpointError(
                    name, 'is not a PyTorch checkpoint (neither a torch.save zip archive nor a '
                    'pickle)') from None
            # A pickle with opcodes the weights-only unpickler does not read (protocol 4+).
            opcode = re.search(r'Unsupported operand (\d+)', message)
            refused = [f'pickle opcode {opcode.group(1)}' if opcode else 'an unsupported pickle']
        if not unsafe_load_allowed():
            raise UnsafeCheckpointError(name, refused) from None
        print_log(
            f'[ba2m_mm] loading checkpoint {name!r} in full (weights_only=False): it '
            f'references {", ".join(refused)}, and {UNSAFE_LOAD_ENV}=1 (--unsafe-load) '
            'allows it.',
            logger='current',
            level=logging.WARNING)
        _rewind(f)
        checkpoint = _torch_load(f, map_location, weights_only=False)
    except EOFError:
        raise InvalidCheckpointError(name, 'is empty or truncated') from None
    except RuntimeError as e:
        if 'PytorchStreamReader' not in str(e) and 'zip archive' not in str(e):
            raise
        raise InvalidCheckpointError(
            name, f'is truncated or corrupt (torch.load: {str(e).splitlines()[0]})') from None
    _last_loaded = (id(checkpoint), name)
    return checkpoint


def checkpoint_source(checkpoint: Any) -> Optional[str]:
    """The name :func:`load_checkpoint_file` loaded ``checkpoint`` from, if it was the last
    checkpoint it returned (for errors raised by checks after mmengine loaded it)."""
    return _last_loaded[1] if _last_loaded[0] == id(checkpoint) else None
