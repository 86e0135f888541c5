"""Per-step numbers for the trainer: ``grader_error_rate`` and ``grader/<name>`` means."""

from __future__ import annotations

from collections.abc import Sequence

from openrft.graders.types import GradeResult


def error_rate(results: Sequence[GradeResult]) -> float:
    """Fraction of results with any error flag set (0.0 for no results)."""
    if not results:
        return 0.0
    return sum(result.has_error for result in results) / len(results)


def mean_metrics(results: Sequence[GradeResult]) -> dict[str, float]:
    """``{"grader/<name>": mean}`` over the results that report metric ``name``."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for result in results:
        for name, value in result.metrics.items():
            sums[name] = sums.get(name, 0.0) + value
            counts[name] = counts.get(name, 0) + 1
    return {f"grader/{name}": sums[name] / counts[name] for name in sums}
