"""The option tables of the docs: the arguments and defaults are read from the code's
signatures when the tables are rendered (``BA2M``, and the ``ba2m_*`` arguments every BA2M
backbone adds), the meanings are written here. An argument without a meaning, or a meaning
without an argument, is an error, so the tables follow the code."""
import inspect
from typing import Dict, List, Tuple

BA2M_MEANINGS: Dict[str, str] = {
    'reduction':
    'R (Table VIII): hidden width d = C // R; must be <= the stage\'s channels',
    'branches':
    "any non-empty subset of `'channel'`, `'local'`, `'global'` (Table IX)",
    'normalize':
    "`'scaled_softmax'` (N x softmax, mean weight 1) or the paper's `'softmax'` "
    '(Eq. 11, weights sum to 1); see [which normalisation]'
    '(implementation_notes.md#which-normalisation-which-global-attention-policy)',
    'sync':
    'use the global batch of all processes: the softmax over every process\'s SARs '
    'and the branch BN statistics from every process\'s samples; local when not distributed',
    'momentum':
    'weight of a new batch in the running statistics of the branch BN (after a '
    'cumulative average over the first 10 batches)',
    'statistics':
    'what the branch BN normalises with in training: the running statistics '
    "after adding this batch (`'running_with_batch'`), `'running'` (the batches before) or "
    "`'batch'` (this batch)",
    'zero_init':
    'start as the identity: the branch BN\'s gamma starts at 0, so every weight '
    'is exactly 1 until BA2M learns to depart from it',
    'strength':
    'how fast BA2M leaves the identity: the branch BN applies `strength` x its '
    'gamma and beta, so SGD moves them strength^2 as fast',
    'gsa_mode':
    "global spatial attention: `'exact'`, `'sampled'` or `'auto'` (exact while "
    'N x HW x HW fits a budget by device and dtype, else sampled queries; '
    '[policy](implementation_notes.md#which-normalisation-which-global-attention-policy))',
    'gsa_num_samples':
    "query positions of `'sampled'`; the most `'auto'` samples",
    'gsa_exact_max_positions':
    "set: `'auto'` is exact up to this H x W whatever the batch; "
    '`None`: the budget',
    'gsa_groups':
    'groups of the global branch\'s f, g, h 1x1 convolutions; `None`: '
    '`gcd(R, d, C)`',
    'finite_check_interval':
    'training forwards between two checks for non-finite SARs (a '
    'check waits for the device)',
}
# Set by the backbone per stage, not by the user.
BA2M_INTERNAL = ('in_channels', 'name', 'init_cfg')

BACKBONE_MEANINGS: Dict[str, str] = {
    'ba2m_stages':
    'one bool per stage: which stages BA2M follows. `None`: every stage in '
    '{full}; stages at least {width} channels wide in {thin} (the skipped ones are logged)',
    'ba2m_cfg':
    'arguments of `BA2M` (table below); `None`: its defaults',
    'ba2m_position':
    "`'between'` stages (Eq. 15, Fig. 4d) or `'inside'` every residual block, "
    'before the addition (Fig. 4c)',
}


def _default(param: inspect.Parameter) -> str:
    return '-' if param.default is inspect.Parameter.empty else f'`{param.default!r}`'


def _rows(params: List[inspect.Parameter], meanings: Dict[str, str], what: str) -> List[str]:
    names = [p.name for p in params]
    missing = [n for n in names if n not in meanings]
    stale = [n for n in meanings if n not in names]
    if missing or stale:
        raise ValueError(f'{what}: arguments without a meaning {missing}, meanings of no '
                         f'argument {stale}; edit ba2m_mm/compare/doc_options.py')
    return [f'| `{p.name}` | {_default(p)} | {meanings[p.name]} |' for p in params]


def ba2m_params() -> List[inspect.Parameter]:
    from ba2m_mm.models.layers import BA2M
    return [
        p for p in inspect.signature(BA2M).parameters.values()
        if p.name not in BA2M_INTERNAL and p.kind is not p.VAR_KEYWORD
    ]


def _subclasses(cls) -> List[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub] + _subclasses(sub)
    return out


def backbone_params() -> Tuple[List[inspect.Parameter], List[type]]:
    """The ``ba2m_*`` arguments of the BA2M backbones (where the mixin declares them), and
    the backbone classes."""
    from ba2m_mm.models.backbones import BA2MStagesMixin as base
    params = [
        p for p in inspect.signature(base.__init__).parameters.values()
        if p.name.startswith('ba2m_')
    ]
    classes = [c for c in _subclasses(base) if not c.__name__.endswith('Mixin')]
    return params, classes


def render_options(which: str) -> str:
    """The markdown table of ``'BA2M'``'s or ``'backbone'``'s options."""
    header = ['| argument | default | meaning |', '|---|---|---|']
    if which == 'BA2M':
        return '\n'.join(header + _rows(ba2m_params(), BA2M_MEANINGS, 'BA2M'))
    if which == 'backbone':
        params, classes = backbone_params()
        full = sorted({c.__name__ for c in classes if not c.ba2m_default_min_channels})
        thin = sorted({c.__name__ for c in classes if c.ba2m_default_min_channels})
        widths = sorted({c.ba2m_default_min_channels for c in classes} - {0})
        meanings = dict(BACKBONE_MEANINGS)
        meanings['ba2m_stages'] = meanings['ba2m_stages'].format(
            full=', '.join(f'`{n}`' for n in full),
            width=' / '.join(str(w) for w in widths),
            thin=', '.join(f'`{n}`' for n in thin))
        return '\n'.join(header + _rows(params, meanings, 'BA2M backbones'))
    raise ValueError(f"options table must be 'BA2M' or 'backbone', got {which!r}")
