"""The before/after report of a job: base model vs the chosen checkpoint on the same validation
prompts, sampled with the same seeds, graded by the job's own grader (any grader).

Each item's score is the mean reward of its samples. Means and the paired difference get 95%
intervals: Wilson / Newcombe when every score is a single pass/fail (0 or 1) outcome, Student's t
otherwise (the item, not the sample, is the unit, so repeated samples of one prompt do not
narrow the interval as if they were independent items).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from openrft.domain.stats import (
    Estimate,
    paired_difference_interval,
    paired_t_interval,
    t_interval,
    wilson_interval,
)

MOST_CHANGED = 5
# Scores closer than this are a tie (rewards are floats that graders compute).
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ItemOutcome:
    """One validation item's samples under both models; rewards in sample order."""

    item: int
    prompt: list[dict[str, Any]]
    base_rewards: list[float]
    tuned_rewards: list[float]
    base_completion: str
    tuned_completion: str

    @property
    def base_score(self) -> float:
        return statistics.fmean(self.base_rewards)

    @property
    def tuned_score(self) -> float:
        return statistics.fmean(self.tuned_rewards)

    @property
    def change(self) -> float:
        return self.tuned_score - self.base_score


def _pass_fail(items: list[ItemOutcome]) -> bool:
    """One sample per side per item, each reward exactly 0 or 1."""
    return all(
        len(o.base_rewards) == len(o.tuned_rewards) == 1
        and {o.base_rewards[0], o.tuned_rewards[0]} <= {0.0, 1.0}
        for o in items
    )


def _interval(estimate: Estimate | None) -> list[float] | None:
    return None if estimate is None else [estimate.low, estimate.high]


def _intervals(items: list[ItemOutcome]) -> tuple[str, dict[str, Any]]:
    base = [o.base_score for o in items]
    tuned = [o.tuned_score for o in items]
    estimates: tuple[Estimate | None, Estimate | None, Estimate | None]
    if _pass_fail(items):
        n = len(items)
        passed_base, passed_tuned = [b == 1.0 for b in base], [t == 1.0 for t in tuned]
        estimates = (
            wilson_interval(sum(passed_base), n),
            wilson_interval(sum(passed_tuned), n),
            paired_difference_interval(passed_tuned, passed_base),
        )
        method = "wilson_newcombe"
    else:
        estimates = (t_interval(base), t_interval(tuned), paired_t_interval(tuned, base))
        method = "student_t"
    base_ci, tuned_ci, diff_ci = estimates
    difference = statistics.fmean(tuned) - statistics.fmean(base)
    return method, {
        "base": {"reward_mean": statistics.fmean(base), "ci95": _interval(base_ci)},
        "tuned": {"reward_mean": statistics.fmean(tuned), "ci95": _interval(tuned_ci)},
        "difference": {
            "reward_mean": difference,
            "ci95": _interval(diff_ci),
            "excludes_zero": bool(diff_ci and diff_ci.excludes_zero),
        },
    }


def item_record(outcome: ItemOutcome) -> dict[str, Any]:
    """An item as the report shows it (``most_changed`` and the results file)."""
    return {
        "item": outcome.item,
        "prompt": outcome.prompt,
        "base_reward": outcome.base_score,
        "tuned_reward": outcome.tuned_score,
        "change": outcome.change,
        "base_completion": outcome.base_completion,
        "tuned_completion": outcome.tuned_completion,
    }


def compare(items: list[ItemOutcome]) -> dict[str, Any]:
    """Means with 95% intervals, the paired difference, wins/losses/ties and the items whose
    score changed most (largest absolute change first; unchanged items are never listed)."""
    if not items:
        raise ValueError("a before/after comparison needs at least one item")
    method, estimates = _intervals(items)
    changes = [o.change for o in items]
    moved = sorted(
        (o for o in items if abs(o.change) > TIE_TOLERANCE),
        key=lambda o: (-abs(o.change), o.item),
    )
    return {
        "n_items": len(items),
        "samples_per_item": len(items[0].base_rewards),
        "interval_method": method,
        **estimates,
        "wins": sum(c > TIE_TOLERANCE for c in changes),
        "losses": sum(c < -TIE_TOLERANCE for c in changes),
        "ties": sum(abs(c) <= TIE_TOLERANCE for c in changes),
        "most_changed": [item_record(o) for o in moved[:MOST_CHANGED]],
    }
