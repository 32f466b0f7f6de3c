"""The classes and functions a checkpoint may reference when it is loaded safely.

``torch.load(..., weights_only=True)`` rebuilds tensors, parameters, ``torch.Size``,
dtypes and the Python containers (dict, ``OrderedDict``, list, tuple, set, ``Counter``)
and refuses every other global a pickle names. Beyond those, the checkpoints that mmengine's
Runner writes (``epoch_N.pth``: ``meta``, ``state_dict``, ``optimizer``,
``param_schedulers``, ``message_hub``) reference exactly these, found by listing the
globals of real checkpoints of this project (mmdet and mmpretrain runs) with
``torch.serialization.get_unsafe_globals_in_checkpoint``:

- ``mmengine.logging.HistoryBuffer``: the logged scalars in ``message_hub.log_scalars``.
  Its pickle also holds its statistics methods as ``getattr(HistoryBuffer, 'mean')``,
  so ``builtins.getattr`` is allowed for exactly those (and nothing else);
- numpy arrays (``HistoryBuffer``'s history) and numpy scalars (``message_hub``'s
  ``eta``, metric values): ``numpy.ndarray``, ``numpy.dtype`` with the numeric and bool
  dtype classes, ``numpy._core.multiarray._reconstruct`` and ``.scalar`` (also under
  their numpy 1.x names ``numpy.core.multiarray.*``, which older checkpoints use), and
  ``bytes`` (the data of an empty array).

Object arrays, arbitrary classes and any callable outside this list stay refused.
"""
from typing import Callable, List, Tuple, Union

import numpy as np
from mmengine.logging import HistoryBuffer

# The statistics methods that HistoryBuffer instances pickle by name.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')

_multiarray = np._core.multiarray

# Numeric and bool dtypes only: object, string and void dtypes stay refused.
_DTYPE_CLASSES = tuple(
    sorted(
        {
            type(np.dtype(code))
            for code in '?' + np.typecodes['AllInteger'] + np.typecodes['AllFloat']
        },
        key=lambda cls: cls.__name__))


def history_buffer_method(owner: type, name: str) -> Callable:
    """``getattr`` as HistoryBuffer's pickle uses it, for nothing else.

    A ``HistoryBuffer`` keeps its statistics methods in a dict; pickle stores them as
    ``getattr(HistoryBuffer, 'mean')``. This stands in for ``builtins.getattr`` while a
    checkpoint is loaded safely.

    Args:
        owner (type): Must be ``HistoryBuffer``.
        name (str): One of its statistics methods.

    Returns:
        Callable: ``getattr(HistoryBuffer, name)``.

    Raises:
        pickle.UnpicklingError: For any other object or name.
    """
    import pickle
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL builtins.getattr was not an allowed global by default '
        f'(only getattr(HistoryBuffer, {HISTORY_BUFFER_STATISTICS}) is allowed, got '
        f'getattr({owner!r}, {name!r}))')


def safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The allow-list, in the form ``torch.serialization.safe_globals`` takes.

    Returns:
        list: Classes and functions, or ``(object, 'pickled.name')`` pairs where the name a
        checkpoint uses differs from the object's own.
    """
    return [
        HistoryBuffer,
        (history_buffer_method, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        *_DTYPE_CLASSES,
        (_multiarray._reconstruct, 'numpy._core.multiarray._reconstruct'),
        (_multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
        (_multiarray.scalar, 'numpy._core.multiarray.scalar'),
        (_multiarray.scalar, 'numpy.core.multiarray.scalar'),
        (bytes, 'builtins.bytes'),
    ]


def safe_global_names() -> List[str]:
    """The pickled names of :func:`safe_globals` (``module.qualname``)."""
    names = []
    for item in safe_globals():
        if isinstance(item, tuple):
            names.append(item[1])
        else:
            names.append(f'{item.__module__}.{item.__qualname__}')
    return names
