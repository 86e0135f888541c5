"""Per-step signals the alarms read: repetition in completions, and the monitor grader's view.

The monitor grader grades the same completions as the training grader but never trains, so the
per-sample gap ``training reward - monitor reward`` isolates what the training grader rewards
and the monitor does not (the signature of reward hacking when it grows).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from openrft.training.alarms import Alarm, AlarmMonitor
from openrft.training.grading import AsyncGrader, GradedBatch, grade_groups
from openrft.training.rollout import GroupRollout

REPETITION_NGRAM = 4  # tokens


def repetition_rate(token_ids: Sequence[int], n: int = REPETITION_NGRAM) -> float:
    """Fraction of a completion's token n-grams that repeat an earlier one (0 = none, → 1 for
    a line repeated to the token limit); 0 for completions shorter than two n-grams."""
    grams = [tuple(token_ids[i : i + n]) for i in range(len(token_ids) - n + 1)]
    if len(grams) < 2:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def step_repetition(groups: Sequence[GroupRollout]) -> float:
    """Mean ``repetition_rate`` over every completion of the step."""
    rates = [repetition_rate(c.token_ids) for g in groups for c in g.completions]
    return statistics.fmean(rates) if rates else 0.0


def _standard_error(values: Sequence[float]) -> float:
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0


def monitor_metrics(
    graded: GradedBatch, monitored: GradedBatch, group_size: int
) -> dict[str, float]:
    """The monitor's mean reward and the training-minus-monitor gap over the samples both
    graders graded. The gap's standard error is over per-prompt means: the samples of one
    prompt are not independent.

    Returns ``monitor/reward_mean`` (and its ``monitor/reward_se``), ``monitor/reward_gap_mean``,
    ``monitor/reward_gap_se``,
    ``monitor/graded_samples`` and ``monitor/error_rate`` (empty-safe: zeros).
    """
    both = (graded.graded & monitored.graded).tolist()
    train, monitor = graded.rewards.tolist(), monitored.rewards.tolist()
    prompt_gaps, prompt_monitor = [], []
    for start in range(0, len(both), group_size):
        paired_here = [i for i in range(start, start + group_size) if both[i]]
        if paired_here:
            prompt_gaps.append(statistics.fmean(train[i] - monitor[i] for i in paired_here))
            prompt_monitor.append(statistics.fmean(monitor[i] for i in paired_here))
    paired = [i for i, ok in enumerate(both) if ok]
    return {
        "monitor/reward_mean": statistics.fmean(monitor[i] for i in paired) if paired else 0.0,
        "monitor/reward_se": _standard_error(prompt_monitor),
        "monitor/reward_gap_mean": statistics.fmean(prompt_gaps) if prompt_gaps else 0.0,
        "monitor/reward_gap_se": _standard_error(prompt_gaps),
        "monitor/graded_samples": float(len(paired)),
        "monitor/error_rate": monitored.error_rate,
    }


class IntegrityWatch:
    """The loop's integrity signals and alarms: grades each step's completions with the
    monitor grader (when the job has one), measures repetition, and raises alarms."""

    def __init__(self, monitor: AsyncGrader | None, group_size: int, max_completion_tokens: int):
        self.monitor = monitor
        self.group_size = group_size
        self.alarms = AlarmMonitor(max_completion_tokens)

    async def step_signals(
        self, groups: Sequence[GroupRollout], graded: GradedBatch, tag: str
    ) -> dict[str, float]:
        """``completions/repetition_rate`` and, with a monitor, the ``monitor/*`` metrics."""
        signals = {"completions/repetition_rate": step_repetition(groups)}
        if self.monitor is not None:
            monitored = await grade_groups(self.monitor, groups, tag=f"{tag}-monitor")
            signals |= monitor_metrics(graded, monitored, self.group_size)
        return signals

    def update(self, metrics: dict[str, Any]) -> list[Alarm]:
        """The alarms that start to hold after this step's metrics."""
        return self.alarms.update(metrics)

    def state_dict(self) -> dict[str, Any]:
        return self.alarms.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alarms.load_state_dict(state)
