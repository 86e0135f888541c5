"""Rollout samples kept per job: a bounded sample of each training step's rollouts and every
validation sample of every evaluation (free of wire, SQL and tensor types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Split = Literal["train", "valid"]
SPLITS: tuple[Split, ...] = ("train", "valid")


@dataclass(frozen=True)
class RolloutSample:
    """One graded completion.

    ``step`` is the training step it was sampled at (``0`` = the baseline evaluation, before
    any update); ``item`` is the row's index in its split's rows and ``sample`` the completion's
    index among that row's samples. ``scores`` holds each sub-grader reward and grader metric
    (a Lambda's ``metrics_list`` entries by name); ``errors`` the grader error flags that were
    set. ``advantage`` is the GRPO advantage (training samples only).
    """

    step: int
    split: Split
    item: int
    sample: int
    prompt: list[dict[str, Any]]
    completion: str
    reward: float
    finish_reason: str
    completion_tokens: int
    prompt_tokens: int
    scores: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    advantage: float | None = None


@dataclass(frozen=True)
class StoredSample:
    """A sample as the control plane stores it: with its id and creation time."""

    id: str
    job_id: str
    created_at: int
    sample: RolloutSample


@dataclass(frozen=True)
class SampleFilter:
    """``/samples`` query: every field optional; reward bounds are inclusive."""

    step: int | None = None
    split: Split | None = None
    min_reward: float | None = None
    max_reward: float | None = None
