"""Wire models for ``/v1/fine_tuning/jobs`` (FineTuningJob, events, checkpoints)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openrft.domain.jobs import Checkpoint, CreateJob, Job, JobEvent, public_grader
from openrft.protocol.common import ErrorObject

ORGANIZATION_PREFIX = "org-"


class CreateFineTuningJobRequest(BaseModel):
    """``CreateFineTuningJobRequest``; nested objects are checked by the service."""

    model_config = ConfigDict(extra="forbid")

    model: str
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    seed: int | None = None
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    integrations: list[dict[str, Any]] | None = None

    def to_service(self) -> CreateJob:
        return CreateJob(**self.model_dump())


class LegacyHyperparameters(BaseModel):
    batch_size: int | str
    learning_rate_multiplier: float | str
    n_epochs: int | str


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    error: ErrorObject | None
    fine_tuned_model: str | None
    finished_at: int | None
    hyperparameters: LegacyHyperparameters
    model: str
    organization_id: str
    result_files: list[str]
    seed: int
    status: str
    trained_tokens: int | None
    training_file: str
    validation_file: str | None
    estimated_finish: int | None
    integrations: list[dict[str, Any]] | None
    metadata: dict[str, str] | None
    method: dict[str, Any]
    user_provided_suffix: str | None
    # Extension: the base model that trains. ``model`` is the name the request used, which
    # differs when it was one of the server's model aliases (e.g. "gpt-4.1").
    resolved_model: str

    @classmethod
    def of(cls, job: Job) -> FineTuningJob:
        hp = job.hyperparameters
        return cls(
            id=job.id,
            created_at=job.created_at,
            error=ErrorObject(**job.error) if job.error else None,
            fine_tuned_model=job.fine_tuned_model,
            finished_at=job.finished_at,
            hyperparameters=LegacyHyperparameters(
                batch_size=hp["batch_size"],
                learning_rate_multiplier=hp["learning_rate_multiplier"],
                n_epochs=hp["n_epochs"],
            ),
            model=job.model_alias or job.model,
            organization_id=ORGANIZATION_PREFIX + job.project,
            result_files=job.result_files,
            seed=job.seed,
            status=job.status.value,
            trained_tokens=job.trained_tokens,
            training_file=job.training_file,
            validation_file=job.validation_file,
            estimated_finish=job.estimated_finish,
            integrations=job.integrations,
            metadata=job.metadata,
            method={"type": job.method, job.method: _method_section(job)},
            user_provided_suffix=job.suffix,
            resolved_model=job.model,
        )


def _method_section(job: Job) -> dict[str, Any]:
    """``method.<type>`` as OpenAI echoes it: the hyperparameters resolved (and, for
    reinforcement, the grader and openrft's other settings)."""
    section: dict[str, Any] = {"hyperparameters": job.hyperparameters}
    if job.method != "reinforcement":
        return section
    section["grader"] = public_grader(job.grader)
    if job.response_format is not None:
        section["response_format"] = job.response_format
    if job.monitor_grader is not None:
        section["monitor_grader"] = public_grader(job.monitor_grader)
    if job.preflight is not None:
        section["preflight"] = job.preflight
    if job.tools is not None:
        section["tools"] = job.tools
    return section


class FineTuningJobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class FineTuningJobEvent(BaseModel):
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    id: str
    created_at: int
    level: str
    message: str
    type: str
    data: dict[str, Any] | None = Field(default=None)

    @classmethod
    def of(cls, event: JobEvent) -> FineTuningJobEvent:
        return cls(
            id=event.id,
            created_at=event.created_at,
            level=event.level,
            message=event.message,
            type=event.type,
            data=event.data,
        )


class FineTuningJobEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJobEvent]
    has_more: bool


class FineTuningJobCheckpoint(BaseModel):
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: dict[str, float]
    step_number: int

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> FineTuningJobCheckpoint:
        return cls(
            id=checkpoint.id,
            created_at=checkpoint.created_at,
            fine_tuned_model_checkpoint=checkpoint.fine_tuned_model_checkpoint,
            fine_tuning_job_id=checkpoint.job_id,
            metrics={"step": float(checkpoint.step_number), **checkpoint.metrics},
            step_number=checkpoint.step_number,
        )


class FineTuningJobCheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJobCheckpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool
