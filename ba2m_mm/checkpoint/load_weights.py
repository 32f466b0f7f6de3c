"""Load a checkpoint file's weights into a model, safely and with checks."""
import re
from collections import OrderedDict
from typing import Sequence, Tuple

import torch
from mmengine.runner.checkpoint import load_state_dict

from .safe_load import load_checkpoint_file
from .validate import InvalidCheckpointError, check_shapes, state_dict_of


def load_weights(model: torch.nn.Module,
                 filename: str,
                 map_location='cpu',
                 strict: bool = False,
                 revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )) -> dict:
    """Like ``mmengine.runner.load_checkpoint``, with the safe loader and errors that name
    the file: tensors of another shape always fail; with ``strict=True`` missing and
    unexpected keys fail too (else they are logged, as mmengine does).

    Args:
        model (nn.Module): The model; its parameters and buffers are overwritten.
        filename (str): A local checkpoint file.
        map_location: As :func:`torch.load`. Defaults to ``'cpu'``.
        strict (bool): Require exactly the model's keys. Defaults to False.
        revise_keys (Sequence[tuple[str, str]]): ``(pattern, replacement)`` applied to
            every key. Defaults to stripping DDP's ``module.`` prefix.

    Returns:
        dict: The whole checkpoint.

    Raises:
        InvalidCheckpointError: The file holds no state dict, or it does not fit ``model``.
    """
    checkpoint = load_checkpoint_file(filename, map_location)
    state_dict = state_dict_of(checkpoint, filename)
    for pattern, replacement in revise_keys:
        state_dict = OrderedDict(
            (re.sub(pattern, replacement, k), v) for k, v in state_dict.items())
    check_shapes(state_dict, model, filename)
    if strict:
        expected = set(model.state_dict())
        missing = sorted(expected - set(state_dict))
        unexpected = sorted(set(state_dict) - expected)
        if missing or unexpected:
            raise InvalidCheckpointError(
                filename, f'does not fit the model: {len(missing)} missing keys '
                f'{missing[:5]}, {len(unexpected)} unexpected keys {unexpected[:5]}')
    load_state_dict(model, state_dict, strict=False, logger='current')
    return checkpoint
