"""95% confidence intervals for before/after comparisons (the job report and the demo).

Pass/fail outcomes, one per item: the Wilson score interval for one proportion and, for the
difference of two proportions measured on the same items (tuned − base), Newcombe's hybrid score
interval for paired data (Newcombe 1998, method 10, with its correction of the correlation phi),
which combines both Wilson intervals with the correlation between the paired outcomes.
Any other reward: Student's t interval of the mean of per-item values, and of the mean of the
per-item differences (the paired t interval).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A proportion (or a difference of proportions) with its 95% interval."""

    value: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def as_dict(self) -> dict[str, float | list[float]]:
        return {"value": self.value, "ci95": [self.low, self.high]}


def wilson_interval(successes: int, n: int, z: float = Z_95) -> Estimate:
    """Wilson score interval of ``successes / n``; the full ``[0, 1]`` when ``n == 0``."""
    if n == 0:
        return Estimate(0.0, 0.0, 1.0)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half))


def paired_difference_interval(
    tuned: Sequence[bool], base: Sequence[bool], z: float = Z_95
) -> Estimate:
    """Interval of ``mean(tuned) − mean(base)`` for outcomes paired by question.

    ``tuned[i]`` and ``base[i]`` are the two models' outcomes on question ``i`` (same length).
    """
    if len(tuned) != len(base):
        raise ValueError(f"paired outcomes differ in length: {len(tuned)} vs {len(base)}")
    n = len(tuned)
    if n == 0:
        return Estimate(0.0, -1.0, 1.0)
    # The paired 2×2 table: a = both right, b = only tuned right, c = only base right, d = neither.
    pairs = list(zip(tuned, base, strict=True))
    a = sum(1 for t, s in pairs if t and s)
    b = sum(1 for t, s in pairs if t and not s)
    c = sum(1 for t, s in pairs if s and not t)
    d = n - a - b - c
    p1, p2 = (a + b) / n, (a + c) / n
    w1, w2 = wilson_interval(a + b, n, z), wilson_interval(a + c, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    # Newcombe's correction of phi for positive association: without it, questions on which both
    # models always agree (b = c = 0) would collapse the interval to the single point 0.
    association = float(a * d - b * c)
    if association > 0:
        association = max(association - n / 2, 0.0)
    phi = 0.0 if margins == 0 else association / math.sqrt(margins)
    below = (p1 - w1.low) ** 2 - 2 * phi * (p1 - w1.low) * (w2.high - p2) + (w2.high - p2) ** 2
    above = (w1.high - p1) ** 2 - 2 * phi * (w1.high - p1) * (p2 - w2.low) + (p2 - w2.low) ** 2
    difference = p1 - p2
    return Estimate(
        difference,
        max(-1.0, difference - math.sqrt(max(0.0, below))),
        min(1.0, difference + math.sqrt(max(0.0, above))),
    )


def t_interval(values: Sequence[float], confidence: float = 0.95) -> Estimate | None:
    """Student's t interval of the mean of ``values``; None for fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    from scipy.stats import t  # scipy is imported only by the code that needs a quantile

    mean = statistics.fmean(values)
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * statistics.stdev(values) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half)


def paired_t_interval(tuned: Sequence[float], base: Sequence[float]) -> Estimate | None:
    """t interval of ``mean(tuned − base)`` for values paired by item (same length)."""
    if len(tuned) != len(base):
        raise ValueError(f"paired values differ in length: {len(tuned)} vs {len(base)}")
    return t_interval([t - b for t, b in zip(tuned, base, strict=True)])
