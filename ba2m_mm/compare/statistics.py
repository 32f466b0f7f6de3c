"""Statistics of a seeded comparison: per-arm summaries and paired differences.

A run that diverged (a NaN or infinite metric, or none) is never dropped
silently: the summaries are over the finite values, and every summary counts
the others (``diverged``) and, for paired differences, names their seeds.
"""
import math
import statistics
from typing import Dict, Mapping, Sequence, Union

from scipy import stats as scipy_stats


def is_finite(value) -> bool:
    """Whether ``value`` is a finite number (not None, NaN or +-inf)."""
    return value is not None and math.isfinite(value)


def summarize(values: Union[Sequence[float], Mapping[int, float]]) -> Dict:
    """Mean, sample standard deviation (n - 1), median, min and max of the
    finite ``values`` (NaN where undefined), their number ``n``, and the
    number of the others, ``diverged`` (None, NaN or +-inf: a diverged run).

    Args:
        values (Sequence[float] | Mapping[int, float]): One value per run, or
            ``{seed: value}``.

    Returns:
        dict: ``mean``, ``std``, ``median``, ``min``, ``max``, ``n`` (finite
        values), ``diverged`` (non-finite values) and ``diverged_seeds``:
        the seeds (for a mapping) or positions (for a sequence) of the
        non-finite values, in order.
    """
    items = sorted(values.items()) if isinstance(values, Mapping) else enumerate(values)
    finite, diverged = [], []
    for key, v in items:
        if is_finite(v):
            finite.append(float(v))
        else:
            diverged.append(key)
    nan = float('nan')
    return dict(
        mean=statistics.fmean(finite) if finite else nan,
        std=statistics.stdev(finite) if len(finite) > 1 else nan,
        median=statistics.median(finite) if finite else nan,
        min=min(finite) if finite else nan,
        max=max(finite) if finite else nan,
        n=len(finite),
        diverged=len(diverged),
        diverged_seeds=diverged)


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple:
    """Student-t confidence interval of the mean of ``values``: NaNs if n < 2
    or if any value is not finite (drop diverged values explicitly, as
    :func:`paired_difference` does, and report them)."""
    n = len(values)
    if n < 2 or not all(is_finite(v) for v in values):
        return float('nan'), float('nan')
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half = scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return mean - half, mean + half


def paired_difference(arm: Mapping[int, float],
                      reference: Mapping[int, float],
                      confidence: float = 0.95) -> Dict:
    """Difference ``arm - reference`` per seed, on the seeds both have.

    A seed where either value is not finite (a diverged run) is not a
    difference: it is left out of every statistic below and listed in
    ``diverged_seeds`` with the side that diverged, never dropped silently.

    Args:
        arm, reference (Mapping[int, float]): Metric per seed.
        confidence (float): Level of the interval. Defaults to 0.95.

    Returns:
        dict: ``per_seed`` ({seed: difference}, finite pairs), ``mean``,
        ``std``, ``median``, ``min``, ``max``, ``n`` (finite pairs), ``ci``
        ((low, high), Student t with n - 1 degrees of freedom), ``wins``
        (seeds where the arm is higher), ``diverged`` (paired seeds with a
        non-finite value) and ``diverged_seeds`` ({seed: ``'arm'``,
        ``'reference'`` or ``'both'``}).
    """
    seeds = sorted(set(arm) & set(reference))
    diffs, diverged = {}, {}
    for s in seeds:
        bad = [
            name for name, side in (('arm', arm), ('reference', reference))
            if not is_finite(side[s])
        ]
        if bad:
            diverged[s] = bad[0] if len(bad) == 1 else 'both'
        else:
            diffs[s] = arm[s] - reference[s]
    out = summarize(list(diffs.values()))
    out.update(
        per_seed=diffs,
        ci=t_interval(list(diffs.values()), confidence),
        confidence=confidence,
        wins=sum(d > 0 for d in diffs.values()),
        diverged=len(diverged),
        diverged_seeds=diverged)
    return out
