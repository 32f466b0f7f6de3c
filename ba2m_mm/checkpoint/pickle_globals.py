"""List the globals (classes, functions) a checkpoint's pickle names, without loading it.

Used to name what the safe loader refused: torch stops at the first refused global, and for
some pickles (protocol 4+, written with ``pickle.dump``) only reports an unsupported opcode.
"""
import io
import pickletools
import zipfile
from typing import BinaryIO, List, Optional, Union

import _compat_pickle

# Opcodes that push a string (the module and name operands of STACK_GLOBAL).
_STRING_OPS = {
    'SHORT_BINUNICODE', 'BINUNICODE', 'BINUNICODE8', 'UNICODE', 'SHORT_BINSTRING', 'BINSTRING',
    'STRING'
}
_PUT_OPS = {'BINPUT', 'LONG_BINPUT', 'PUT'}
_GET_OPS = {'BINGET', 'LONG_BINGET', 'GET'}
# torch's legacy (non-zip) format is several pickles in a row before the tensor data.
_MAX_LEGACY_PICKLES = 5


def _python3_name(module: str, name: str) -> str:
    """``module.name`` as Python 3 resolves it (protocol 0-2 pickles may say
    ``__builtin__.exec`` for ``builtins.exec``)."""
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    return f'{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}'


def _globals_in_pickles(stream: BinaryIO, max_pickles: int) -> List[str]:
    found = []
    for _ in range(max_pickles):
        memo, pushed = {}, []
        try:
            for op, arg, _pos in pickletools.genops(stream):
                name = op.name
                if name in ('GLOBAL', 'INST'):
                    found.append(_python3_name(*arg.split(' ', 1)))
                    pushed.append(None)
                elif name == 'STACK_GLOBAL':
                    module, attr = pushed[-2:] if len(pushed) >= 2 else (None, None)
                    if isinstance(module, str) and isinstance(attr, str):
                        found.append(_python3_name(module, attr))
                    pushed.append(None)
                elif name in _STRING_OPS:
                    pushed.append(arg)
                elif name in _GET_OPS:
                    pushed.append(memo.get(arg))
                elif name in _PUT_OPS:
                    memo[arg] = pushed[-1] if pushed else None
                elif name == 'MEMOIZE':
                    memo[len(memo)] = pushed[-1] if pushed else None
                elif op.stack_after:
                    pushed.append(None)
        except Exception:  # the end of the pickles (tensor bytes follow) or not a pickle
            break
    return list(dict.fromkeys(found))


def pickle_globals(f: Union[str, BinaryIO]) -> Optional[List[str]]:
    """The ``module.name`` of every global a checkpoint's pickle references.

    Reads ``data.pkl`` of a ``torch.save`` zip archive, or the pickles at the start of a
    legacy torch file or a plain pickle. Nothing is unpickled.

    Args:
        f (str or file-like): The checkpoint.

    Returns:
        list[str] or None: The globals in order of appearance, without repeats; None when
        ``f`` is neither a zip archive with a ``data.pkl`` nor a pickle.
    """
    opened = open(f, 'rb') if isinstance(f, str) else f
    try:
        opened.seek(0)
        if zipfile.is_zipfile(opened):
            opened.seek(0)
            with zipfile.ZipFile(opened) as archive:
                records = [n for n in archive.namelist() if n.endswith('data.pkl')]
                if not records:
                    return None
                data = archive.read(records[0])
            return _globals_in_pickles(io.BytesIO(data), 1)
        opened.seek(0)
        try:
            first, _, _ = next(pickletools.genops(opened))
        except Exception:
            return None
        if first.name != 'PROTO':  # protocol 2+ (torch.save writes 2)
            return None
        opened.seek(0)
        return _globals_in_pickles(opened, _MAX_LEGACY_PICKLES)
    finally:
        if isinstance(f, str):
            opened.close()
        else:
            opened.seek(0)
