"""Wire models for a job's rollout samples and its before/after report."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from openrft.domain.samples import StoredSample


class FineTuningJobSample(BaseModel):
    """One graded completion. ``step`` 0 is the baseline evaluation; ``item`` indexes the
    split's rows; ``scores`` holds sub-grader rewards and grader metrics by name."""

    object: Literal["fine_tuning.job.sample"] = "fine_tuning.job.sample"
    id: str
    created_at: int
    fine_tuning_job_id: str
    step: int
    split: Literal["train", "valid"]
    item: int
    sample: int
    prompt: list[dict[str, Any]]
    completion: str
    reward: float
    scores: dict[str, float | None]
    errors: list[str]
    advantage: float | None
    finish_reason: str
    completion_tokens: int
    prompt_tokens: int

    @classmethod
    def of(cls, stored: StoredSample) -> FineTuningJobSample:
        s = stored.sample
        return cls(
            id=stored.id,
            created_at=stored.created_at,
            fine_tuning_job_id=stored.job_id,
            step=s.step,
            split=s.split,
            item=s.item,
            sample=s.sample,
            prompt=s.prompt,
            completion=s.completion,
            reward=s.reward,
            scores=dict(s.scores),
            errors=s.errors,
            advantage=s.advantage,
            finish_reason=s.finish_reason,
            completion_tokens=s.completion_tokens,
            prompt_tokens=s.prompt_tokens,
        )


class FineTuningJobSampleList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJobSample]
    first_id: str | None
    last_id: str | None
    has_more: bool


class Interval(BaseModel):
    reward_mean: float
    ci95: list[float] | None


class Difference(Interval):
    excludes_zero: bool


class FineTuningJobReport(BaseModel):
    """Base model vs the chosen checkpoint on the validation items (see services/reports.py)."""

    model_config = ConfigDict(extra="allow")

    object: Literal["fine_tuning.job.report"] = "fine_tuning.job.report"
    fine_tuning_job_id: str
    created_at: int
    base_model: str
    tuned_model: str
    step: int
    split: str
    n_items: int
    samples_per_item: int
    interval_method: Literal["wilson_newcombe", "student_t"]
    base: Interval
    tuned: Interval
    difference: Difference
    wins: int
    losses: int
    ties: int
    most_changed: list[dict[str, Any]]
    note: str
