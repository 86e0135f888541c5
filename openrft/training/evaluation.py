"""Validation: sample ``eval_samples`` completions per validation item, grade, average.

Items are generated ``rows_per_call // samples`` at a time (by default the training step's
``batch_size × group_size`` rows, a batch the engine already holds), each call one batch;
every group is graded as soon as its samples end, while the engine decodes the rest. Samples
the grader could not grade are left out of the mean and counted.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from openrft.domain.samples import RolloutSample
from openrft.graders import GradeResult
from openrft.training.data import Row
from openrft.training.grader_logs import distinct_logs
from openrft.training.grading import QUOTED_ERRORS, AsyncGrader, GroupGrading, quoted_logs
from openrft.training.rollout import (
    Codec,
    GroupDone,
    GroupRollout,
    Rollouts,
    Sampler,
    SamplingConfig,
    SingleTurn,
)
from openrft.training.samples import eval_samples

# Bounds a generation batch (prompts x samples rows) when the caller gives no bound. Decoding a
# small model on a CPU reads the weights once per token for the whole batch: on the learning
# workload (bench/grpo_step.py, 2026-12-03, 2 cores, load 4) greedy validation in calls of 16 rows
# decoded 27 tokens/s, the step's 64-row rollout 72 tokens/s.
EVAL_ROWS_PER_CALL = 64


@dataclass(frozen=True)
class EvalResult:
    """Means over the graded samples; ``reward_mean`` is None when none was graded."""

    reward_mean: float | None
    reward_std: float
    response_length_mean: float
    n_items: int
    n_samples: int
    n_graded: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[RolloutSample] = field(default_factory=list)  # every sample, errored too
    monitor_reward_mean: float | None = None  # the monitor grader's mean, when there is one
    logs: list[str] = field(default_factory=list)  # what the grader's code printed, distinct
    error_logs: str = ""  # the part of it from calls that failed (bounded)

    @property
    def error_rate(self) -> float:
        total = self.n_items * self.n_samples
        return 1.0 - self.n_graded / total if total else 0.0

    def quoted_errors(self) -> str:
        return "; ".join(f"{n}x {text}" for text, n in self.errors.most_common(QUOTED_ERRORS))


async def evaluate(
    sampler: Sampler,
    codec: Codec,
    grader: AsyncGrader,
    items: Sequence[tuple[Row, list[int]]],
    config: SamplingConfig,
    samples: int,
    *,
    step: int = 0,
    monitor: AsyncGrader | None = None,
    rollouts: Rollouts | None = None,
    rows_per_call: int = EVAL_ROWS_PER_CALL,
) -> EvalResult:
    """Mean reward over every graded (item, sample); ``items`` pairs rows with prompt ids.
    ``step`` is the training step the evaluation follows (0 = baseline), kept on the samples.
    ``monitor`` grades the same samples too (its own mean, over what it graded).
    ``rollouts`` (multi-turn, tools) replaces single-turn sampling on ``sampler``.
    ``rows_per_call`` bounds one generation batch (at least one item per call)."""
    rollouts = rollouts or SingleTurn(sampler, codec)
    rewards: list[float] = []
    monitor_rewards: list[float] = []
    lengths: list[int] = []
    errors: Counter[str] = Counter()
    kept: list[RolloutSample] = []
    logs: list[str] = []
    failed: list[GradeResult] = []
    chunks: list[tuple[int, list[GroupRollout], GroupGrading, GroupGrading | None]] = []
    per_call = max(1, rows_per_call // max(1, samples))
    for start in range(0, len(items), per_call):
        chunk = items[start : start + per_call]
        grading = GroupGrading(grader, tag=f"eval-{start}")
        watching = GroupGrading(monitor, tag=f"eval-{start}-monitor") if monitor else None
        groups = await rollouts.run(
            [r for r, _ in chunk],
            [p for _, p in chunk],
            config,
            samples,
            on_group=grading.submit if watching is None else _both(grading, watching),
        )
        chunks.append((start, groups, grading, watching))
    for start, groups, grading, watching in chunks:
        graded = await grading.collect(groups)
        rewards.extend(graded.graded_rewards)
        errors.update(graded.errors)
        logs += distinct_logs(graded.results)
        failed += [
            r for r, ok in zip(graded.results, graded.graded.tolist(), strict=True) if not ok
        ]
        kept += eval_samples(step, groups, start, graded.results)
        if watching is not None:
            monitor_rewards.extend((await watching.collect(groups)).graded_rewards)
        lengths.extend(sum(g.loss_mask(i)) for g in groups for i in range(len(g.completions)))
    n = len(rewards)
    mean = sum(rewards) / n if n else None
    std = (sum((r - (mean or 0.0)) ** 2 for r in rewards) / max(n - 1, 1)) ** 0.5
    length = sum(lengths) / max(len(lengths), 1)
    monitor_mean = statistics.fmean(monitor_rewards) if monitor_rewards else None
    return EvalResult(
        mean,
        std,
        length,
        len(items),
        samples,
        n,
        errors,
        kept,
        monitor_mean,
        list(dict.fromkeys(logs)),
        quoted_logs(failed),
    )


def _both(first: GroupGrading, second: GroupGrading) -> GroupDone:
    """Submit each finished group to both gradings."""

    def submit(index: int, group: GroupRollout) -> None:
        first.submit(index, group)
        second.submit(index, group)

    return submit
