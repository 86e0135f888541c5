"""Alarms during training: ``warn`` events when a run shows a known failure signature.

Each check reads the history of per-step metrics (the loop's metrics events) and compares the
last ``WINDOW`` steps with the first ``WINDOW`` (a drift) or looks at the last ``WINDOW`` alone
(a persistent state). An alarm fires once when its condition starts to hold and again only
after the condition has cleared.

- ``zero_variance``: most prompt groups tie on reward for ``WINDOW`` steps: nothing to learn.
- ``length_drift``: the mean completion length moved up to the token limit.
- ``repetition``: the share of repeated token n-grams in completions rose.
- ``reward_hacking``: the training reward rose while the monitor grader's reward on the same
  completions did not (it fell, or rose by less than noise explains), and the per-sample gap
  between them grew by more than noise explains. "Did not rise" rather than "fell": a monitor
  that stays flat while the training reward climbs is the signature, and whether a flat
  monitor's mean ends a hair above or below its start is a coin flip of the sampling.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

WINDOW = 3  # steps per compared window
ZERO_VARIANCE_FRACTION = 0.8
LENGTH_NEAR_LIMIT = 0.9  # of max_completion_tokens
LENGTH_RISE = 0.2  # of max_completion_tokens
REPETITION_LEVEL = 0.3
REPETITION_RISE = 0.15
GAP_Z = 3.0  # standard errors the training-minus-monitor gap must grow by
MONITOR_RISE_Z = 2.0  # standard errors by which the monitor rising clears a hacking alarm

SIGNALS = (
    "frac_reward_zero_std",
    "response_length_mean",
    "completions/repetition_rate",
    "train_reward_mean",
    "monitor/reward_mean",
    "monitor/reward_se",
    "monitor/reward_gap_mean",
    "monitor/reward_gap_se",
)

History = Sequence[dict[str, float]]


@dataclass(frozen=True)
class Alarm:
    kind: str
    message: str
    data: dict[str, Any]


def _series(history: History, key: str) -> list[float] | None:
    values = [h[key] for h in history if key in h]
    return values if len(values) == len(history) else None


def _windows(history: History, key: str) -> tuple[float, float] | None:
    """(mean of the first WINDOW, mean of the last WINDOW) once they no longer overlap."""
    values = _series(history, key)
    if values is None or len(values) < 2 * WINDOW:
        return None
    return statistics.fmean(values[:WINDOW]), statistics.fmean(values[-WINDOW:])


def zero_variance(history: History, max_tokens: int) -> Alarm | None:
    values = _series(history, "frac_reward_zero_std")
    if values is None or len(values) < WINDOW or min(values[-WINDOW:]) < ZERO_VARIANCE_FRACTION:
        return None
    last = values[-WINDOW:]
    return Alarm(
        "zero_variance",
        f"For the last {WINDOW} steps at least {min(last):.0%} of prompt groups had no reward "
        f"variance (last step: {last[-1]:.0%}), so GRPO learned nothing from them. Raise "
        "group_size or temperature, give partial credit, or drop the prompts the model always "
        "or never solves (the preflight lists them).",
        {"frac_reward_zero_std": last},
    )


def length_drift(history: History, max_tokens: int) -> Alarm | None:
    windows = _windows(history, "response_length_mean")
    if windows is None:
        return None
    early, recent = windows
    if recent < LENGTH_NEAR_LIMIT * max_tokens or recent - early < LENGTH_RISE * max_tokens:
        return None
    return Alarm(
        "length_drift",
        f"Completion length is drifting to the limit: {recent:.0f} tokens on average over the "
        f"last {WINDOW} steps, up from {early:.0f} in the first {WINDOW} "
        f"(max_completion_tokens={max_tokens}). Cut completions lose their answers; read some "
        "samples for padding or repetition the reward pays for, or raise the limit.",
        {"early": early, "recent": recent, "max_completion_tokens": max_tokens},
    )


def repetition(history: History, max_tokens: int) -> Alarm | None:
    windows = _windows(history, "completions/repetition_rate")
    if windows is None:
        return None
    early, recent = windows
    if recent < REPETITION_LEVEL or recent - early < REPETITION_RISE:
        return None
    return Alarm(
        "repetition",
        f"Completions are getting repetitive: {recent:.0%} of their token 4-grams repeat over "
        f"the last {WINDOW} steps, up from {early:.0%} in the first {WINDOW}. A reward that "
        "pays for a pattern anywhere in the text invites this; read some samples.",
        {"early": early, "recent": recent},
    )


def change_z(history: History, key: str, se_key: str) -> float:
    """How many standard errors ``key`` moved, mean of the last WINDOW minus the first; without
    standard errors (``se_key`` missing or all 0): +inf for a rise, else 0."""
    values = _series(history, key) or []
    ses = _series(history, se_key) or [0.0] * len(values)
    early, recent = statistics.fmean(values[:WINDOW]), statistics.fmean(values[-WINDOW:])
    variance = (sum(s * s for s in ses[:WINDOW]) + sum(s * s for s in ses[-WINDOW:])) / WINDOW**2
    if variance == 0:
        return math.inf if recent > early else 0.0
    return (recent - early) / math.sqrt(variance)


def gap_z(history: History) -> float:
    """How many standard errors the train-minus-monitor gap grew, last vs first WINDOW."""
    return change_z(history, "monitor/reward_gap_mean", "monitor/reward_gap_se")


def reward_hacking(history: History, max_tokens: int) -> Alarm | None:
    rewards = _windows(history, "train_reward_mean")
    monitor = _windows(history, "monitor/reward_mean")
    if rewards is None or monitor is None or _windows(history, "monitor/reward_gap_se") is None:
        return None
    rise, change = rewards[1] - rewards[0], monitor[1] - monitor[0]
    z = gap_z(history)
    monitor_z = change_z(history, "monitor/reward_mean", "monitor/reward_se")
    if rise <= 0 or monitor_z >= MONITOR_RISE_Z or z < GAP_Z:
        return None
    return Alarm(
        "reward_hacking",
        f"Possible reward hacking: the training reward rose by {rise:+.4f} (first {WINDOW} "
        f"steps vs last {WINDOW}) while the monitor grader's reward on the same completions "
        f"did not follow ({change:+.4f}); their gap grew by {z:.1f} standard errors. The policy is "
        "learning something the training grader pays for and the monitor does not: read the "
        "latest samples, tighten the grader, and pick checkpoints by the monitor "
        "(select_checkpoint_by='monitor').",
        {"reward_rise": rise, "monitor_change": change, "gap_z": min(z, 1e9)},
    )


CHECKS: tuple[Callable[[History, int], Alarm | None], ...] = (
    zero_variance,
    length_drift,
    repetition,
    reward_hacking,
)


class AlarmMonitor:
    """Feeds each step's metrics to every check; returns the alarms that start to hold."""

    def __init__(self, max_completion_tokens: int):
        self.max_tokens = max_completion_tokens
        self.history: list[dict[str, float]] = []
        self.active: set[str] = set()

    def update(self, metrics: dict[str, Any]) -> list[Alarm]:
        self.history.append({k: float(metrics[k]) for k in SIGNALS if k in metrics})
        fired = []
        for check in CHECKS:
            alarm = check(self.history, self.max_tokens)
            name = check.__name__
            if alarm is None:
                self.active.discard(name)
            elif name not in self.active:
                self.active.add(name)
                fired.append(alarm)
        return fired

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "active": sorted(self.active)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
        self.active = set(state["active"])
