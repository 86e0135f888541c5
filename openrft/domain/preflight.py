"""Preflight statistics: what the base model's graded groups say about a job before it trains.

Pure functions over per-prompt outcomes (rewards, lengths, finish reasons). A reward of
``None`` is a sample the grader could not grade: it takes no part in any rate or mean, as in
training. A prompt is *learnable* when at least two of its samples were graded and their
rewards differ (GRPO's advantage is zero for a tied group); a sample *passes* when its reward
reaches ``pass_threshold``; a prompt is *always solved* when every graded sample passes and
*never solved* when none does.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openrft.domain.stats import wilson_interval

# The sampled subset's size when the caller names none: as many prompts as fit TOKEN_BUDGET
# completion tokens at the limit (group_size x max_completion_tokens each), within
# [MIN_PROMPTS, DEFAULT_MAX_PROMPTS]. Generation is nearly all of a preflight's time, so this
# bounds it: 12,288 tokens take about 35 s at the 350 rollout tokens/s `make bench` measured.
DEFAULT_MAX_PROMPTS = 16
MIN_PROMPTS = 4
TOKEN_BUDGET = 12_288


@dataclass(frozen=True)
class PreflightOptions:
    """``max_prompts`` rows are sampled (seeded; None: ``sample_size`` picks); a sample passes
    at ``pass_threshold``."""

    max_prompts: int | None = None
    pass_threshold: float = 1.0


def sample_size(max_prompts: int | None, group_size: int, max_tokens: int) -> int:
    """How many prompts to sample: ``max_prompts`` when given, else the token budget's share."""
    if max_prompts is not None:
        return max_prompts
    fit = TOKEN_BUDGET // max(group_size * max_tokens, 1)
    return max(MIN_PROMPTS, min(DEFAULT_MAX_PROMPTS, fit))


PASS_RATE_BINS = ((0.0, 0.0), (0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0), (1.0, 1.0))


@dataclass(frozen=True)
class PromptOutcome:
    """One prompt's group: ``item`` is its row index in the training file."""

    item: int
    rewards: list[float | None]  # per sample; None = not graded
    lengths: list[int]  # completion tokens per sample
    truncated: list[bool]  # stopped at max_completion_tokens

    @property
    def graded(self) -> list[float]:
        return [r for r in self.rewards if r is not None]

    @property
    def learnable(self) -> bool:
        graded = self.graded
        return len(graded) >= 2 and max(graded) != min(graded)

    def pass_rate(self, threshold: float) -> float | None:
        graded = self.graded
        return sum(r >= threshold for r in graded) / len(graded) if graded else None


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """min, p10, p50, p90, max and mean of ``values`` (empty: {})."""
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])

    return {
        "min": float(ordered[0]),
        "p10": at(0.1),
        "p50": float(statistics.median(ordered)),
        "p90": at(0.9),
        "max": float(ordered[-1]),
        "mean": statistics.fmean(ordered),
    }


def pass_rate_histogram(rates: Sequence[float]) -> list[dict[str, Any]]:
    """Prompts per pass-rate bin: exactly 0, (0, .25), [.25, .5), [.5, .75), [.75, 1), 1."""
    bins = []
    for low, high in PASS_RATE_BINS:
        if low == high:
            count = sum(r == low for r in rates)
            label = f"{low:g}"
        else:
            count = sum(low <= r < high and r not in (0.0, 1.0) for r in rates)
            label = f"[{low:g}, {high:g})" if low else f"(0, {high:g})"
        bins.append({"pass_rate": label, "prompts": count})
    return bins


def group_statistics(outcomes: Sequence[PromptOutcome], pass_threshold: float) -> dict[str, Any]:
    """The learnability section of the report (fractions over prompts with a graded sample).

    The learnable fraction is a proportion over the sampled prompts: its 95% Wilson interval
    says how far the training file's fraction may be from it."""
    present = [o for o in outcomes if o.graded]
    learnable = wilson_interval(sum(o.learnable for o in present), len(present))
    rates = {o.item: o.pass_rate(pass_threshold) for o in present}
    always = [item for item, rate in rates.items() if rate == 1.0]
    never = [item for item, rate in rates.items() if rate == 0.0]
    n = max(len(present), 1)
    rewards = [r for o in present for r in o.graded]
    return {
        "prompts": len(outcomes),
        "prompts_graded": len(present),
        "pass_threshold": pass_threshold,
        "learnable_fraction": learnable.value,
        "learnable_fraction_ci95": [learnable.low, learnable.high],
        "always_solved": always,
        "never_solved": never,
        "always_solved_fraction": len(always) / n,
        "never_solved_fraction": len(never) / n,
        "pass_rate_histogram": pass_rate_histogram([r for r in rates.values() if r is not None]),
        "reward": quantiles(rewards),
    }


def completion_statistics(outcomes: Sequence[PromptOutcome], max_tokens: int) -> dict[str, Any]:
    """Truncation rate at ``max_tokens`` and the completion length distribution (tokens)."""
    lengths = [n for o in outcomes for n in o.lengths]
    truncated = [t for o in outcomes for t in o.truncated]
    return {
        "max_completion_tokens": max_tokens,
        "truncation_rate": sum(truncated) / max(len(truncated), 1),
        "length_tokens": quantiles([float(n) for n in lengths]),
    }


def determinism(first: Sequence[float | None], second: Sequence[float | None]) -> dict[str, Any]:
    """Compare two gradings of the same samples: how many got a different reward."""
    pairs = [(a, b) for a, b in zip(first, second, strict=True) if a is not None and b is not None]
    differing = [abs(a - b) for a, b in pairs if a != b]
    return {
        "samples_compared": len(pairs),
        "differing": len(differing),
        "max_abs_difference": max(differing, default=0.0),
        "deterministic": not differing,
    }


def probe_flagged(probe_mean: float | None, base: Sequence[float]) -> bool:
    """A probe is flagged when it scores at or above the base model's median reward and above
    the lowest reward the base model got: scoring only the floor (say 0 on a task the base
    model mostly fails) is not an exploit, even when the floor is also the median."""
    if probe_mean is None or not base:
        return False
    return probe_mean >= statistics.median(base) and probe_mean > min(base)
