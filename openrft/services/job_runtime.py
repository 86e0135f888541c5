"""The training worker's only door to the control plane: job spec, events, control, checkpoints.

Every call opens its own short DB session, so a long training step never holds a transaction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from openrft.db.engine import make_engine, make_session_factory
from openrft.db.jobs_repo import CheckpointRepository, EventRepository, JobRepository
from openrft.db.models_repo import ModelRepository
from openrft.db.samples_repo import SampleRepository
from openrft.domain.jobs import Checkpoint, Job, JobSpec, JobStatus
from openrft.domain.records import (
    RESULTS_PURPOSE,
    ModelRecord,
    checkpoint_model_id,
    fine_tuned_model_id,
)
from openrft.domain.samples import RolloutSample
from openrft.ids import new_id
from openrft.services.files import FileService, file_key
from openrft.services.quota import ProjectQuota
from openrft.services.reports import REPORT_FILENAME, ReportService
from openrft.services.samples import SAMPLES_FILENAME, SampleService
from openrft.settings import Settings
from openrft.storage.blobs import open_blob_store, tree_bytes

FinishStatus = Literal["succeeded", "failed", "cancelled", "paused"]


def checkpoint_key(job_id: str, step: int) -> str:
    return f"checkpoints/{job_id}/step-{step}"


def model_key(job_id: str) -> str:
    return f"models/{job_id}"


class JobRuntime:
    """Built from Settings (data dir + database URL), or from an existing engine in tests."""

    def __init__(self, settings: Settings, engine: sa.Engine | None = None):
        self.engine = engine or make_engine(settings.resolved_database_url)
        self.sessions = make_session_factory(self.engine)
        self.blobs = open_blob_store(settings)
        self.files = FileService(self.sessions, self.blobs, settings.max_upload_bytes)
        self.quota = ProjectQuota(self.sessions, settings.project_disk_quota_bytes)

    def _job(self, job_id: str) -> Job:
        with self.sessions() as session:
            job = JobRepository(session).get(job_id)
        if job is None:
            raise KeyError(f"no job {job_id}")
        return job

    def load(self, job_id: str) -> JobSpec:
        """The job to run; its files and ``resume_from`` (the latest checkpoint's directory, if
        any) as local paths."""
        job = self._job(job_id)
        with self.sessions() as session:
            latest = CheckpointRepository(session).latest(job_id)
        return JobSpec(
            id=job.id,
            project=job.project,
            model=job.model,
            training_file_path=self.blobs.local_path(file_key(job.training_file)),
            validation_file_path=(
                self.blobs.local_path(file_key(job.validation_file))
                if job.validation_file
                else None
            ),
            seed=job.seed,
            suffix=job.suffix,
            hyperparameters=job.hyperparameters,
            grader=job.grader,
            monitor_grader=job.monitor_grader,
            preflight=job.preflight or "off",
            resume_from=self.blobs.local_path(latest.blob_dir) if latest else None,
            status=job.status,
            tools=job.tools,
            method=job.method,
            integrations=job.integrations,
        )

    def add_event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        """A ``metrics`` event replaces an earlier one of the same step: a worker that resumed
        from a checkpoint after a crash runs the steps since that checkpoint again."""
        safe = json_safe(data) if data is not None else None
        with self.sessions.begin() as session:
            if type == "metrics" and safe is not None and "step" in safe:
                EventRepository(session).delete_step_metrics(job_id, safe["step"])
            JobRepository(session).record_event(job_id, message, level=level, type=type, data=safe)

    def control_request(self, job_id: str) -> Literal["cancel", "pause"] | None:
        """A pending cancel/pause; also "cancel" when the job is no longer running at all."""
        job = self._job(job_id)
        if job.status != JobStatus.RUNNING:
            return "cancel"
        return job.control

    def add_checkpoint(
        self, job_id: str, step: int, metrics: dict[str, float], src_dir: Path
    ) -> str:
        """Copy ``src_dir`` into the blob store and register ``…:ckpt-step-{step}``; return it.

        QuotaExceededError, and nothing stored, when it would take the project past its disk
        quota."""
        job = self._job(job_id)
        metrics = {k: float(v) for k, v in metrics.items() if _finite_number(v)}
        key = checkpoint_key(job_id, step)
        model_id = checkpoint_model_id(
            fine_tuned_model_id(job.model, job.project, job.suffix, job_id), step
        )
        size = tree_bytes(Path(src_dir))
        with self.sessions() as session:
            replaced = ModelRepository(session).get(job.project, model_id)
        self.quota.check_checkpoint_room(job.project, step, size, replaced.bytes if replaced else 0)
        self.blobs.put_dir(key, Path(src_dir))
        now = int(time.time())
        with self.sessions.begin() as session:
            checkpoints, models = CheckpointRepository(session), ModelRepository(session)
            checkpoints.delete_step(job_id, step)
            models.delete(model_id)
            checkpoints.add(
                Checkpoint(new_id("ftckpt_"), job_id, now, step, model_id, metrics, key)
            )
            models.add(
                ModelRecord(
                    model_id, job.project, job.model, job_id, step, key, now, "checkpoint", size
                )
            )
        return model_id

    def delete_checkpoint(self, job_id: str, step: int) -> None:
        """Forget checkpoint ``step`` (row, model id and files)."""
        job = self._job(job_id)
        model_id = checkpoint_model_id(
            fine_tuned_model_id(job.model, job.project, job.suffix, job_id), step
        )
        with self.sessions.begin() as session:
            CheckpointRepository(session).delete_step(job_id, step)
            ModelRepository(session).delete(model_id)
        self.blobs.delete(checkpoint_key(job_id, step))

    def update_progress(
        self, job_id: str, *, trained_tokens: int, estimated_finish: int | None
    ) -> None:
        """``trained_tokens``: total so far; ``estimated_finish``: Unix seconds or None."""
        with self.sessions.begin() as session:
            JobRepository(session).update(
                job_id, trained_tokens=trained_tokens, estimated_finish=estimated_finish
            )

    def add_result_file(self, job_id: str, filename: str, data: bytes) -> str:
        """Store a ``fine-tune-results`` file in the job's project and list it on the job."""
        job = self._job(job_id)
        record = self.files.store(job.project, filename, RESULTS_PURPOSE, data)
        with self.sessions.begin() as session:
            JobRepository(session).update(job_id, result_files=[*job.result_files, record.id])
        return record.id

    def add_samples(self, job_id: str, samples: Sequence[RolloutSample]) -> None:
        """Keep rollout samples (a step's, or an evaluation's); they replace earlier samples
        of the same split and step."""
        # Graders return finite rewards; a Lambda's metrics may not be (JSON has no NaN).
        safe = [replace(s, scores=json_safe(s.scores)) for s in samples]
        with self.sessions.begin() as session:
            SampleRepository(session).replace_step(job_id, safe)

    def finish(
        self,
        job_id: str,
        status: FinishStatus,
        *,
        fine_tuned_step: int | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """End the worker's run: succeeded registers ``ft:…:{job_id}`` at ``fine_tuned_step``
        (default: the latest checkpoint) and writes the before/after report; every run that
        kept samples gets them as a results file. A job that is no longer running is left as
        it is."""
        target = JobStatus(status)
        job = self._job(job_id)
        values: dict[str, Any] = {"control": None}
        if target.is_terminal:
            values["finished_at"] = int(time.time())
        chosen = None
        if target == JobStatus.SUCCEEDED:
            values["fine_tuned_model"], chosen = self._register_fine_tuned(job, fine_tuned_step)
        self._store_results(job, chosen)
        if target == JobStatus.FAILED:
            values["error"] = _error_object(error)
        with self.sessions.begin() as session:
            changed = JobRepository(session).transition(
                job_id,
                target,
                source=JobStatus.RUNNING,
                message=_finish_message(target, values),
                level="error" if target == JobStatus.FAILED else "info",
                **values,
            )
        if not changed and target == JobStatus.SUCCEEDED:
            # The job stopped running meanwhile (cancelled, or failed by the scheduler).
            self._unregister(values["fine_tuned_model"], job_id)

    def _unregister(self, model_id: str, job_id: str) -> None:
        with self.sessions.begin() as session:
            ModelRepository(session).delete(model_id)
        self.blobs.delete(model_key(job_id))

    def _store_results(self, job: Job, chosen: Checkpoint | None) -> None:
        """``samples.jsonl`` when samples were kept; ``report.json`` for a chosen checkpoint of
        a reinforcement job."""
        samples = SampleService(self.sessions).jsonl(job.id)
        if samples:
            self.add_result_file(job.id, SAMPLES_FILENAME, samples)
        if chosen is None or job.method != "reinforcement":
            return  # the before/after report compares sampled rewards: RFT only
        made = ReportService(self.sessions).create(
            job, chosen.step_number, chosen.fine_tuned_model_checkpoint
        )
        if made is None:
            self.add_event(
                job.id,
                f"No before/after report: no validation samples of both the baseline and "
                f"step {chosen.step_number} were kept.",
                level="warn",
            )
            return
        report, data = made
        self.add_result_file(job.id, REPORT_FILENAME, data)
        difference = report["difference"]
        self.add_event(
            job.id,
            f"Before/after report on {report['n_items']} validation items: mean reward "
            f"{report['base']['reward_mean']:.4f} (base) -> {report['tuned']['reward_mean']:.4f} "
            f"(step {chosen.step_number}), difference {difference['reward_mean']:+.4f}; "
            f"{report['wins']} wins, {report['losses']} losses, {report['ties']} ties.",
            data={"phase": "report", "step": chosen.step_number},
        )

    def _register_fine_tuned(self, job: Job, step: int | None) -> tuple[str, Checkpoint]:
        """Copy the chosen checkpoint to ``models/{job_id}`` (hard links on a local store) and
        register the model id."""
        with self.sessions() as session:
            repo = CheckpointRepository(session)
            checkpoint = repo.latest(job.id) if step is None else repo.get_step(job.id, step)
        if checkpoint is None:
            raise ValueError(f"job {job.id} has no checkpoint for step {step}")
        model_id = fine_tuned_model_id(job.model, job.project, job.suffix, job.id)
        key = model_key(job.id)
        self.blobs.copy(checkpoint.blob_dir, key)
        with self.sessions.begin() as session:
            models = ModelRepository(session)
            models.delete(model_id)
            models.add(
                ModelRecord(
                    model_id,
                    job.project,
                    job.model,
                    job.id,
                    checkpoint.step_number,
                    key,
                    int(time.time()),
                    "fine_tuned",
                    self.blobs.size(key),
                )
            )
        return model_id, checkpoint


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats replaced by None (PostgreSQL's JSON rejects them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _error_object(error: dict[str, Any] | None) -> dict[str, Any]:
    error = error or {}
    return {
        "code": str(error.get("code") or "training_failed"),
        "message": str(error.get("message") or "The training worker reported a failure."),
        "param": error.get("param"),
    }


def _finish_message(target: JobStatus, values: dict[str, Any]) -> str:
    if target == JobStatus.SUCCEEDED:
        return f"The job has successfully completed: {values['fine_tuned_model']}"
    if target == JobStatus.FAILED:
        return f"The job failed: {values['error']['message']}"
    return f"The job was {target.value}"
