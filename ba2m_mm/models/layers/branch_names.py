"""The names of BA2M's attention branches and the check of a user's choice of them."""
import difflib
from typing import Sequence

BRANCHES = ('channel', 'local', 'global')


def check_branches(branches: Sequence[str], owner: str = 'BA2M') -> None:
    """Raise a ``ValueError`` naming every wrong name in ``branches``: not a
    non-empty sequence, unknown (with the closest valid name) or repeated."""
    if isinstance(branches, str) or not branches:
        raise ValueError(f'{owner}: branches must be a non-empty sequence of {BRANCHES}, '
                         f'got {branches!r}')
    unknown = [b for b in branches if b not in BRANCHES]
    repeated = sorted({b for b in branches if list(branches).count(b) > 1}, key=str)
    if unknown or repeated:
        wrong = [
            f'unknown {b!r}' + ''.join(f' (did you mean {m!r}?)'
                                       for m in difflib.get_close_matches(str(b), BRANCHES, 1))
            for b in unknown
        ] + [f'{b!r} given more than once' for b in repeated]
        raise ValueError(f'{owner}: branches must be distinct names from {BRANCHES}, '
                         f'got {tuple(branches)!r}: {"; ".join(wrong)}')
