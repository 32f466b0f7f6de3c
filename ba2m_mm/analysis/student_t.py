"""Student-t quantiles without scipy, for machines that lack it (the bare CUDA machine).

:mod:`ba2m_mm.compare.statistics` takes its interval's quantile from
``scipy.stats.t.ppf``. scipy is not in the wheel kit that the GPU verdict sends to a bare
CUDA machine (``docs/gpu_verdict.md``), and it may be absent there. :func:`ensure_t_quantile`
then registers a ``scipy.stats`` module that holds only ``t.ppf``, computed here (regularised
incomplete beta by its continued fraction, inverted by bisection: 1e-12 relative), so that
the comparison statistics run unchanged. Where scipy is installed nothing is registered.
"""
import importlib.util
import math
import sys
import types


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)``."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t (the inverse of :func:`t_cdf`), ``0 < p < 1``."""
    if not 0.0 < p < 1.0 or not df > 0:
        raise ValueError(f't_ppf: need 0 < p < 1 and df > 0, got p={p!r}, df={df!r}')
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * max(1.0, high):
            break
    return 0.5 * (low + high)


def ensure_t_quantile() -> str:
    """Make ``from scipy import stats; stats.t.ppf`` work: scipy's own where it is
    installed, else a stand-in module with :func:`t_ppf` only.

    Returns:
        str: ``'scipy'`` or ``'ba2m_mm.analysis.student_t'`` (where the quantile comes
        from, for the report).
    """
    existing = sys.modules.get('scipy')
    if existing is not None:
        return __name__ if getattr(existing, '_ba2m_stand_in', False) else 'scipy'
    if 'scipy' not in sys.modules and importlib.util.find_spec('scipy') is not None:
        return 'scipy'
    # absent (not installed, or None in sys.modules: an import that must fail)
    stats = types.ModuleType('scipy.stats')
    stats.t = types.SimpleNamespace(ppf=lambda q, df: t_ppf(float(q), float(df)))
    scipy = types.ModuleType('scipy')
    scipy.stats, scipy._ba2m_stand_in = stats, True
    sys.modules['scipy'], sys.modules['scipy.stats'] = scipy, stats
    return __name__


__all__ = ['t_cdf', 't_ppf', 'ensure_t_quantile']
