"""Checks that a loaded checkpoint is what the code using it expects, with errors that name
the file and what is missing or wrong (instead of a ``TypeError`` deep inside a tool)."""
from collections.abc import Mapping
from typing import Any, Dict, Iterable, Tuple

import torch


class InvalidCheckpointError(ValueError):
    """A checkpoint file that is not what its user needs.

    Attributes:
        filename (str): The checkpoint.
        problem (str): What is wrong, e.g. ``"holds a list, not a dict"``.
    """

    def __init__(self, filename: str, problem: str):
        self.filename, self.problem = filename, problem
        super().__init__(f'checkpoint {filename!r} {problem}')


def checkpoint_dict(checkpoint: Any, filename: str) -> dict:
    """``checkpoint`` if it is a dict, as mmengine, mmdet and mmpretrain need.

    Raises:
        InvalidCheckpointError: If it is not.
    """
    if not isinstance(checkpoint, Mapping):
        raise InvalidCheckpointError(
            filename, f'holds a {type(checkpoint).__name__}, not a dict: expected a state dict '
            '(parameter name -> tensor) or a dict with a \'state_dict\' entry')
    return checkpoint


def state_dict_of(checkpoint: Any, filename: str) -> Dict[str, torch.Tensor]:
    """The state dict of a checkpoint: ``checkpoint['state_dict']`` (mmengine, mmdet,
    mmpretrain) or the checkpoint itself when it is a plain state dict (torchvision).

    Args:
        checkpoint: The loaded checkpoint.
        filename (str): For errors.

    Returns:
        dict[str, Tensor]: The state dict.

    Raises:
        InvalidCheckpointError: Not a dict, a ``state_dict`` entry that is not a dict, or
            no ``state_dict`` and no tensors.
    """
    checkpoint = checkpoint_dict(checkpoint, filename)
    if 'state_dict' in checkpoint:
        state_dict = checkpoint['state_dict']
    else:
        state_dict = checkpoint
        if not any(torch.is_tensor(v) for v in checkpoint.values()):
            keys = sorted(map(str, checkpoint))
            shown = keys[:8] + (['...'] if len(keys) > 8 else [])
            raise InvalidCheckpointError(
                filename, f'has no \'state_dict\' and no tensors (top-level keys: {shown}): '
                'it holds no model weights')
    if not isinstance(state_dict, Mapping):
        raise InvalidCheckpointError(
            filename, f"has a 'state_dict' that is a {type(state_dict).__name__}, not a dict")
    return state_dict


def shape_mismatches(state_dict: Mapping,
                     model_state: Mapping) -> Iterable[Tuple[str, tuple, tuple]]:
    """``(key, shape in the checkpoint, shape in the model)`` for each shared key whose
    shapes differ."""
    for key, value in state_dict.items():
        if key in model_state and torch.is_tensor(value) and torch.is_tensor(model_state[key]):
            if value.shape != model_state[key].shape:
                yield key, tuple(value.shape), tuple(model_state[key].shape)


def check_shapes(state_dict: Mapping, model: torch.nn.Module, filename: str) -> None:
    """Fail when tensors of ``state_dict`` have other shapes than ``model``'s.

    mmengine only logs such mismatches and leaves those tensors as initialised, which is
    right when fine-tuning from another model (``load_from``), but means evaluating or
    resuming a different network than the one trained.

    Args:
        state_dict (Mapping): The checkpoint's state dict (keys as in ``model``).
        model (nn.Module): The model it is loaded into.
        filename (str): For errors.

    Raises:
        InvalidCheckpointError: Naming the file, the number of mismatches and the first few.
    """
    wrong = list(shape_mismatches(state_dict, model.state_dict()))
    if not wrong:
        return
    shown = '; '.join(f'{key}: {tuple(a)} in the file, {tuple(b)} in the model'
                      for key, a, b in wrong[:3])
    more = f' (and {len(wrong) - 3} more)' if len(wrong) > 3 else ''
    raise InvalidCheckpointError(
        filename, f'does not fit the model: {len(wrong)} tensors have another shape: {shown}'
        f'{more}. Was it trained with another config?')


def check_resumable(checkpoint: Mapping, filename: str) -> None:
    """Fail unless ``checkpoint`` holds the training state mmengine resumes from.

    Raises:
        InvalidCheckpointError: Naming what is missing.
    """
    meta = checkpoint.get('meta', None)
    missing = []
    if not isinstance(meta, Mapping) or 'epoch' not in meta or 'iter' not in meta:
        missing.append("'meta' with 'epoch' and 'iter'")
    if 'message_hub' not in checkpoint:
        missing.append("'message_hub'")
    if missing:
        raise InvalidCheckpointError(
            filename, f'cannot be resumed from: it has no {" and no ".join(missing)} (the '
            'training state a Runner checkpoint holds; published and stripped checkpoints keep '
            'only the weights). To start from its weights instead, use '
            f'--cfg-options load_from={filename} without --resume.')
