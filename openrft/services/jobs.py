"""Fine-tuning jobs: create (validated), list, retrieve, cancel/pause/resume, events."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.files_repo import FileRepository
from openrft.db.jobs_repo import CheckpointRepository, EventRepository, JobRepository
from openrft.domain.base_models import canonical_base_model
from openrft.domain.jobs import (
    Checkpoint,
    CreateJob,
    Job,
    JobEvent,
    JobStatus,
    MethodType,
    ensure_action,
)
from openrft.domain.model_aliases import ModelAliases
from openrft.domain.records import FileRecord
from openrft.errors import ConflictError, InvalidRequestError, NotFoundError, RateLimitError
from openrft.ids import new_id
from openrft.services import job_requests as req
from openrft.services.files import file_key
from openrft.services.quota import ProjectQuota
from openrft.storage.blobs import BlobStore
from openrft.trackers.spec import check_integrations

if TYPE_CHECKING:
    from openrft.graders.types import ValidationContext

# How many of a running job's latest metrics events /metrics reads (validation runs at least
# every eval_interval steps; older values are stale anyway).
LIVE_METRIC_EVENTS = 50


@dataclass(frozen=True)
class LiveMetrics:
    """A running job's latest step metrics (``{"step": 3.0, "train_reward_mean": ...}``)."""

    job_id: str
    project: str
    metrics: dict[str, float]


# How often an action re-reads a job whose status changed under it before giving up.
_ACTION_ATTEMPTS = 5

_ACTION_MOVES: dict[str, tuple[JobStatus, str, Callable[[], dict[str, Any]]]] = {
    "cancel": (JobStatus.CANCELLED, "Job cancelled", lambda: {"finished_at": int(time.time())}),
    "pause": (JobStatus.PAUSED, "Job paused", dict),
    "resume": (JobStatus.QUEUED, "Job resumed, moving job to queued state", dict),
}


@dataclass(frozen=True)
class CheckedRequest:
    """A create request after validation: what a job (or a preflight) runs on."""

    model: str  # canonical base model
    training: FileRecord
    validation: FileRecord | None
    kind: MethodType  # method.type
    section: dict[str, Any]  # method.<type>
    hyperparameters: dict[str, Any]  # resolved
    grader: dict[str, Any]  # normalized
    monitor: dict[str, Any] | None
    checks: ValidationContext


def check_limit(limit: int, maximum: int = 1000) -> int:
    if not 1 <= limit <= maximum:
        raise InvalidRequestError(f"Invalid 'limit' {limit}: use 1 to {maximum}.", param="limit")
    return limit


class JobService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        grader_context: Callable[[str], ValidationContext],
        resolve_model: Callable[[Any], str] = canonical_base_model,
        max_queued_per_project: int | None = None,
        aliases: ModelAliases | None = None,
        vllm_installed: Callable[[], bool] = lambda: False,
        quota_bytes: int | None = None,
    ):
        """``grader_context``: project → what its grader may name (handler files, URLs);
        ``resolve_model``: accepted base model name → canonical id (400 param "model");
        ``max_queued_per_project``: waiting jobs one project may have (429 past it);
        ``aliases``: model names that stand for a base model (the job echoes both);
        ``vllm_installed``: whether jobs may ask for ``rollout_engine: "vllm"``;
        ``quota_bytes``: the per-project disk quota (a project that fills it gets no new job)."""
        self.vllm_installed = vllm_installed
        self.max_queued_per_project = max_queued_per_project
        self.sessions = sessions
        self.blobs = blobs
        self.grader_context = grader_context
        self.resolve_model = resolve_model
        self.aliases = aliases or ModelAliases()
        self.quota = ProjectQuota(sessions, quota_bytes)

    def check(self, project: str, request: CreateJob) -> CheckedRequest:
        """Validate the model, files, grader and hyperparameters of a create request (the
        preflight checks a request the same way)."""
        model = self.canonical_model(request.model)
        with self.sessions() as session:
            files = FileRepository(session)
            training = req.check_training_file(
                files.get(project, request.training_file), request.training_file, "training_file"
            )
            validation = None
            if request.validation_file is not None:
                validation = req.check_training_file(
                    files.get(project, request.validation_file),
                    request.validation_file,
                    "validation_file",
                )
        kind, section = req.method_section(request.method, request.hyperparameters)
        hyperparameters = req.resolve_section_hyperparameters(kind, section, training.rows)
        self._check_rows(kind, ("training_file", training), ("validation_file", validation))
        grader: dict[str, Any] = {}
        monitor = None
        checks = self.grader_context(project)
        if kind == "reinforcement":
            grader = req.validate_grader_spec(section, checks)
            monitor = req.validate_monitor_grader(section, checks)
            req.check_checkpoint_selection(hyperparameters, monitor)
            req.check_rollout_engine(hyperparameters, self.vllm_installed)
        return CheckedRequest(
            model, training, validation, kind, section, hyperparameters, grader, monitor, checks
        )

    def create(self, project: str, request: CreateJob) -> Job:
        """Validate everything, store the job (validating_files), check its files, queue it."""
        with self.sessions() as session:
            self._check_queue_room(JobRepository(session), project)
        self.quota.check_job_room(project)
        checked = self.check(project, request)
        section, validation = checked.section, checked.validation
        job_id = new_id("ftjob-")
        job = Job(
            id=job_id,
            project=project,
            created_at=int(time.time()),
            status=JobStatus.VALIDATING_FILES,
            model=checked.model,
            model_alias=request.model if self.aliases.is_alias(request.model) else None,
            training_file=checked.training.id,
            validation_file=validation.id if validation else None,
            seed=req.resolve_seed(request.seed),
            method=checked.kind,
            hyperparameters=checked.hyperparameters,
            grader=checked.grader,
            monitor_grader=checked.monitor,
            preflight=req.check_preflight(section.get("preflight")),
            suffix=req.check_suffix(request.suffix),
            metadata=req.check_metadata(request.metadata),
            response_format=req.check_response_format(section.get("response_format")),
            integrations=check_integrations(request.integrations, job_id=job_id),
            tools=req.check_tools(section.get("tools"), checked.checks),
            training_rows=checked.training.rows,
        )
        with self.sessions.begin() as session:
            jobs = JobRepository(session)
            jobs.add(job)
            jobs.record_event(job.id, f"Created fine-tuning job: {job.id}")
            for warning in req.hyperparameter_warnings(section):
                jobs.record_event(job.id, warning, level="warn")
            names = " and ".join(f for f in (job.training_file, job.validation_file) if f)
            jobs.record_event(job.id, f"Validating training files: {names}")
        return self._finish_validation(job)

    def _check_rows(self, kind: str, *files: tuple[str, FileRecord | None]) -> None:
        """Each file's rows in the method's data format (400 naming the line and field)."""
        for param, record in files:
            if record is not None and self.blobs.exists(file_key(record.id)):
                with self.blobs.open(file_key(record.id)) as handle:
                    req.check_rows(handle, kind, param, record.id)

    def canonical_model(self, name: str) -> str:
        """The canonical base model ``name`` (or the alias ``name``) stands for."""
        target = self.aliases.target(name)
        try:
            return self.resolve_model(target)
        except InvalidRequestError as exc:
            if target == name:
                raise
            raise InvalidRequestError(
                f"The model alias {name!r} stands for {target!r}, which this server cannot "
                "load; fix the server's --model-alias setting.",
                param="model",
                code="model_not_found",
            ) from exc

    def _check_queue_room(self, jobs: JobRepository, project: str) -> None:
        cap = self.max_queued_per_project
        if cap is not None and jobs.waiting_count(project) >= cap:
            raise RateLimitError(
                f"Project {project!r} already has {cap} jobs waiting to run, the limit "
                "(OPENRFT_MAX_QUEUED_JOBS_PER_PROJECT); wait for one to start or cancel one.",
                code="too_many_queued_jobs",
            )

    def _finish_validation(self, job: Job) -> Job:
        """validating_files → queued when every file's bytes are present, else failed."""
        missing = [
            (param, file_id)
            for param, file_id in (
                ("training_file", job.training_file),
                ("validation_file", job.validation_file),
            )
            if file_id and not self.blobs.exists(file_key(file_id))
        ]
        with self.sessions.begin() as session:
            jobs = JobRepository(session)
            if missing:
                param, file_id = missing[0]
                error = {
                    "code": "invalid_file",
                    "message": f"The content of {param} {file_id} is missing from storage; "
                    "upload the file again and create a new job.",
                    "param": param,
                }
                jobs.transition(
                    job.id,
                    JobStatus.FAILED,
                    source=JobStatus.VALIDATING_FILES,
                    message=error["message"],
                    level="error",
                    error=error,
                    finished_at=int(time.time()),
                )
            else:
                jobs.transition(
                    job.id,
                    JobStatus.QUEUED,
                    source=JobStatus.VALIDATING_FILES,
                    message="Files validated, moving job to queued state",
                )
        return self.retrieve(job.project, job.id)

    def retrieve(self, project: str, job_id: str) -> Job:
        with self.sessions() as session:
            job = JobRepository(session).get(job_id, project)
        if job is None:
            raise NotFoundError(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")
        return job

    def events(
        self, project: str, job_id: str, *, after: str | None, limit: int
    ) -> tuple[list[JobEvent], bool]:
        self.retrieve(project, job_id)
        check_limit(limit)
        with self.sessions() as session:
            return EventRepository(session).page(job_id, after=after, limit=limit)

    def checkpoints(
        self, project: str, job_id: str, *, after: str | None, limit: int
    ) -> tuple[list[Checkpoint], bool]:
        self.retrieve(project, job_id)
        check_limit(limit)
        with self.sessions() as session:
            return CheckpointRepository(session).page(job_id, after=after, limit=limit)

    def live_metrics(self) -> list[LiveMetrics]:
        """Every running job's latest value of each step metric (a metric logged only at some
        steps, like the validation reward, keeps its last value over the recent steps)."""
        with self.sessions() as session:
            running = JobRepository(session).running_projects()
            events = EventRepository(session)
            recent = {
                job_id: events.recent_metrics(job_id, LIVE_METRIC_EVENTS) for job_id in running
            }
        live = []
        for job_id, project in sorted(running.items()):
            latest: dict[str, float] = {}
            for data in recent[job_id]:
                for key, value in data.items():
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        latest.setdefault(key, float(value))
            live.append(LiveMetrics(job_id, project, latest))
        return live

    def count_by_status(self) -> dict[str, int]:
        """Jobs per status value, every project."""
        with self.sessions() as session:
            return JobRepository(session).count_by_status()

    def cancel(self, project: str, job_id: str) -> Job:
        """Not yet running → cancelled now; running → ask the worker to stop."""
        return self._act(project, job_id, "cancel")

    def pause(self, project: str, job_id: str) -> Job:
        """Queued → paused now; running → the worker checkpoints, then pauses."""
        return self._act(project, job_id, "pause")

    def resume(self, project: str, job_id: str) -> Job:
        """Paused → queued; the worker continues from the latest checkpoint."""
        return self._act(project, job_id, "resume")

    def _act(self, project: str, job_id: str, action: str) -> Job:
        """Apply a user action to the job's current status.

        The scheduler or a worker may change the status between our read and our write (a queued
        job is claimed, a running one finishes); the action is then decided again on the fresh
        status, so a race never surfaces as an error the caller has to retry."""
        for _ in range(_ACTION_ATTEMPTS):
            job = self.retrieve(project, job_id)
            if job.status == JobStatus.RUNNING and action in ("cancel", "pause"):
                if self._request_control(job, action):
                    return self.retrieve(project, job_id)
                continue
            ensure_action(job.status, action, job_id=job_id)
            target, message, values = _ACTION_MOVES[action]
            if self._move(job, target, message, **values()):
                return self.retrieve(project, job_id)
        raise ConflictError(
            f"Job {job_id} kept changing state while handling this request; retry.",
            code="invalid_job_status",
        )

    def _request_control(self, job: Job, request: str) -> bool:
        """Ask the running worker to cancel or pause; False when the job is no longer running."""
        if job.control is not None and job.control != request:
            raise InvalidRequestError(
                f"Cannot {request} job {job.id}: a '{job.control}' request is already pending.",
                code="invalid_job_status",
            )
        message = "Cancellation requested" if request == "cancel" else "Pause requested"
        with self.sessions.begin() as session:
            jobs = JobRepository(session)
            if not jobs.update(job.id, expect={JobStatus.RUNNING}, control=request):
                return False
            if job.control is None:
                jobs.record_event(job.id, f"{message}; the worker stops after this step")
        return True

    def _move(self, job: Job, target: JobStatus, message: str, **values: Any) -> bool:
        """Compare-and-set ``job.status → target``; False when the status changed meanwhile."""
        with self.sessions.begin() as session:
            return JobRepository(session).transition(
                job.id, target, source=job.status, message=message, control=None, **values
            )

    def list(
        self, project: str, *, after: str | None, limit: int, metadata: dict[str, str]
    ) -> tuple[list[Job], bool]:
        """Newest first, optionally only jobs whose metadata has every given pair."""
        check_limit(limit)
        with self.sessions() as session:
            return JobRepository(session).page(project, after=after, limit=limit, metadata=metadata)
