"""The fine-tuning Job, its status lifecycle and the legal transitions between statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from openrft.errors import InvalidRequestError


class JobStatus(StrEnum):
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

_LEGAL: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.VALIDATING_FILES: frozenset(
        {JobStatus.QUEUED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.QUEUED: frozenset(
        {JobStatus.RUNNING, JobStatus.PAUSED, JobStatus.CANCELLED, JobStatus.FAILED}
    ),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PAUSED}
    ),
    JobStatus.PAUSED: frozenset({JobStatus.QUEUED, JobStatus.CANCELLED, JobStatus.FAILED}),
}

ControlRequest = Literal["cancel", "pause"]
PreflightMode = Literal["warn", "block", "off"]
MethodType = Literal["supervised", "dpo", "reinforcement"]


class IllegalTransition(ValueError):
    """A status change the lifecycle table does not allow (a programming error, not a race)."""

    def __init__(self, source: JobStatus, target: JobStatus):
        super().__init__(f"illegal job transition {source.value} → {target.value}")
        self.source = source
        self.target = target


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    """True when ``current → target`` is a legal lifecycle step."""
    return target in _LEGAL.get(current, frozenset())


def legal_sources(target: JobStatus) -> frozenset[JobStatus]:
    """Every status from which ``target`` may be reached."""
    return frozenset(s for s in JobStatus if can_transition(s, target))


# User actions: the statuses each may start from (running jobs get a control request instead).
ACTIONS: dict[str, frozenset[JobStatus]] = {
    "cancel": frozenset(
        {JobStatus.VALIDATING_FILES, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED}
    ),
    "pause": frozenset({JobStatus.QUEUED, JobStatus.RUNNING}),
    "resume": frozenset({JobStatus.PAUSED}),
}
_PAST = {"cancel": "cancelled", "pause": "paused", "resume": "resumed"}


def ensure_action(current: JobStatus, action: str, *, job_id: str) -> None:
    """Raise a 400 saying why ``action`` is impossible in ``current`` and when it is possible."""
    allowed = ACTIONS[action]
    if current in allowed:
        return
    names = [s.value for s in JobStatus if s in allowed]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    raise InvalidRequestError(
        f"Cannot {action} job {job_id}: it is '{current.value}'. "
        f"Only jobs that are {listed} can be {_PAST[action]}.",
        code="invalid_job_status",
    )


@dataclass
class Job:
    """A fine-tuning job as the control plane stores it (no wire or SQL types).

    ``model``: the canonical base model that trains; ``model_alias``: the name the request
    used when that was one of the server's model aliases (e.g. ``gpt-4.1``), else None."""

    id: str
    project: str
    created_at: int
    status: JobStatus
    model: str
    training_file: str
    validation_file: str | None
    seed: int
    hyperparameters: dict[str, Any]
    grader: dict[str, Any]
    suffix: str | None = None
    metadata: dict[str, str] | None = None
    response_format: dict[str, Any] | None = None
    integrations: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None  # method.reinforcement.tools (providers)
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    estimated_finish: int | None = None
    trained_tokens: int | None = None
    error: dict[str, Any] | None = None
    result_files: list[str] = field(default_factory=list)
    control: ControlRequest | None = None
    training_rows: int = 0
    monitor_grader: dict[str, Any] | None = None  # grades every sample, never trains
    preflight: PreflightMode | None = None  # None: "off"
    model_alias: str | None = None
    method: MethodType = "reinforcement"  # supervised and dpo jobs have an empty grader


@dataclass(frozen=True)
class JobEvent:
    id: str
    job_id: str
    created_at: int
    level: str
    message: str
    type: str = "message"
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Checkpoint:
    """A saved training step; ``blob_dir`` is the blob-store key of its directory."""

    id: str
    job_id: str
    created_at: int
    step_number: int
    fine_tuned_model_checkpoint: str
    metrics: dict[str, float]
    blob_dir: str


@dataclass(frozen=True)
class JobSpec:
    """What the training worker needs to run (or resume) a job."""

    id: str
    project: str
    model: str
    training_file_path: Any
    validation_file_path: Any | None
    seed: int
    suffix: str | None
    hyperparameters: dict[str, Any]
    grader: dict[str, Any]
    resume_from: Any | None
    status: JobStatus
    monitor_grader: dict[str, Any] | None = None
    preflight: PreflightMode = "off"
    tools: list[dict[str, Any]] | None = None  # tool providers of multi-turn rollouts
    method: MethodType = "reinforcement"
    integrations: list[dict[str, Any]] | None = None  # experiment trackers (normalized)


@dataclass(frozen=True)
class CreateJob:
    """A create request after wire parsing, before validation."""

    model: Any
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    seed: int | None = None
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    integrations: list[dict[str, Any]] | None = None


def public_grader(grader: dict[str, Any]) -> dict[str, Any]:
    """The grader echo: internal keys (leading ``_``) removed at every depth."""
    return _strip_private(grader)


def _strip_private(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_private(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [_strip_private(v) for v in value]
    return value
