"""Statistics of a seeded comparison: per-arm summaries and paired differences."""
import math
import statistics
from typing import Dict, Mapping, Sequence

from scipy import stats as scipy_stats


def summarize(values: Sequence[float]) -> Dict[str, float]:
    """Mean, sample standard deviation (n - 1), median, min, max and n of the
    finite ``values`` (NaN where undefined)."""
    values = [float(v) for v in values if v is not None and math.isfinite(v)]
    nan = float('nan')
    return dict(
        mean=statistics.fmean(values) if values else nan,
        std=statistics.stdev(values) if len(values) > 1 else nan,
        median=statistics.median(values) if values else nan,
        min=min(values) if values else nan,
        max=max(values) if values else nan,
        n=len(values))


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple:
    """Student-t confidence interval of the mean of ``values`` (NaNs if n < 2)."""
    n = len(values)
    if n < 2:
        return float('nan'), float('nan')
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half = scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return mean - half, mean + half


def paired_difference(arm: Mapping[int, float],
                      reference: Mapping[int, float],
                      confidence: float = 0.95) -> Dict:
    """Difference ``arm - reference`` per seed, on the seeds both have.

    Args:
        arm, reference (Mapping[int, float]): Metric per seed.
        confidence (float): Level of the interval. Defaults to 0.95.

    Returns:
        dict: ``per_seed`` ({seed: difference}), ``mean``, ``std``, ``median``,
        ``n``, ``ci`` ((low, high), Student t with n - 1 degrees of freedom)
        and ``wins`` (seeds where the arm is higher).
    """
    seeds = sorted(set(arm) & set(reference))
    diffs = [arm[s] - reference[s] for s in seeds]
    out = summarize(diffs)
    out.update(
        per_seed={
            s: d
            for s, d in zip(seeds, diffs)
        },
        ci=t_interval(diffs, confidence),
        confidence=confidence,
        wins=sum(d > 0 for d in diffs))
    return out
