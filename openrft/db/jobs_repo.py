"""The only SQL for jobs, job events and checkpoints."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from openrft.db.pagination import fetch_page
from openrft.db.tables import checkpoints, job_events, jobs
from openrft.domain.jobs import (
    Checkpoint,
    IllegalTransition,
    Job,
    JobEvent,
    JobStatus,
    legal_sources,
)
from openrft.errors import InvalidRequestError
from openrft.ids import new_id

# Columns a caller may change with ``update``; id, project and creation data never change, and
# ``status`` changes only through ``transition``.
_MUTABLE = frozenset(
    {
        "fine_tuned_model",
        "finished_at",
        "estimated_finish",
        "trained_tokens",
        "error",
        "result_files",
        "control",
        "worker",
    }
)


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        project=row.project,
        created_at=row.created_at,
        status=JobStatus(row.status),
        model=row.model,
        model_alias=row.model_alias,
        training_file=row.training_file,
        validation_file=row.validation_file,
        seed=row.seed,
        hyperparameters=row.hyperparameters,
        grader=row.grader,
        suffix=row.suffix,
        metadata=row.metadata,
        response_format=row.response_format,
        integrations=row.integrations,
        tools=row.tools,
        fine_tuned_model=row.fine_tuned_model,
        finished_at=row.finished_at,
        estimated_finish=row.estimated_finish,
        trained_tokens=row.trained_tokens,
        error=row.error,
        result_files=list(row.result_files or []),
        control=row.control,
        training_rows=row.training_rows,
        monitor_grader=row.monitor_grader,
        preflight=row.preflight,
        method=row.method,
    )


def _event(row: Any) -> JobEvent:
    return JobEvent(
        id=row.id,
        job_id=row.job_id,
        created_at=row.created_at,
        level=row.level,
        message=row.message,
        type=row.type,
        data=row.data,
    )


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        id=row.id,
        job_id=row.job_id,
        created_at=row.created_at,
        step_number=row.step_number,
        fine_tuned_model_checkpoint=row.fine_tuned_model_checkpoint,
        metrics=row.metrics,
        blob_dir=row.blob_dir,
    )


class JobRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, job: Job) -> None:
        self.session.execute(
            jobs.insert().values(
                id=job.id,
                project=job.project,
                created_at=job.created_at,
                status=job.status.value,
                model=job.model,
                model_alias=job.model_alias,
                training_file=job.training_file,
                validation_file=job.validation_file,
                training_rows=job.training_rows,
                seed=job.seed,
                suffix=job.suffix,
                metadata=job.metadata,
                hyperparameters=job.hyperparameters,
                grader=job.grader,
                monitor_grader=job.monitor_grader,
                preflight=job.preflight,
                response_format=job.response_format,
                integrations=job.integrations,
                tools=job.tools,
                method=job.method,
                result_files=job.result_files,
            )
        )

    def get(self, job_id: str, project: str | None = None) -> Job | None:
        """The job, or None; with ``project`` only that project's job."""
        query = sa.select(jobs).where(jobs.c.id == job_id)
        if project is not None:
            query = query.where(jobs.c.project == project)
        row = self.session.execute(query).first()
        return _job(row) if row else None

    def page(
        self, project: str, *, after: str | None, limit: int, metadata: dict[str, str]
    ) -> tuple[list[Job], bool]:
        """Newest first. The metadata filter is applied in Python (JSON is not portable SQL)."""
        where = jobs.c.project == project
        if not metadata:
            page = fetch_page(self.session, jobs, where, after=after, limit=limit)
            return [_job(row) for row in page.rows], page.has_more
        matching = [
            _job(row)
            for row in self.session.execute(
                sa.select(jobs).where(where).order_by(jobs.c.seq.desc())
            )
            if all((row.metadata or {}).get(k) == v for k, v in metadata.items())
        ]
        start = 0
        if after is not None:
            ids = [job.id for job in matching]
            if after not in ids:
                raise InvalidRequestError(
                    f"Invalid 'after' cursor: no job '{after}' matches this filter.",
                    param="after",
                )
            start = ids.index(after) + 1
        chunk = matching[start : start + limit]
        return chunk, start + limit < len(matching)

    def update(self, job_id: str, *, expect: set[JobStatus] | None = None, **values: Any) -> bool:
        """Compare-and-set of non-status columns: only when the status is in ``expect``.
        True when a row changed."""
        unknown = set(values) - _MUTABLE
        if unknown:
            raise ValueError(f"not updatable with update(): {sorted(unknown)}")
        return self._set(job_id, expect, values)

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        message: str,
        source: JobStatus | None = None,
        level: str = "info",
        **values: Any,
    ) -> bool:
        """The only way a job's status changes: ``source → target`` (any legal source of
        ``target`` when ``source`` is None), with ``values`` set and ``message`` recorded as an
        event in the same transaction. False when the job was not in an allowed source status
        (a concurrent change); an illegal ``source → target`` raises ``IllegalTransition``."""
        sources = legal_sources(target)
        if source is not None:
            if source not in sources:
                raise IllegalTransition(source, target)
            sources = frozenset({source})
        unknown = set(values) - _MUTABLE
        if unknown:
            raise ValueError(f"not updatable with transition(): {sorted(unknown)}")
        if not self._set(job_id, sources, {**values, "status": target.value}):
            return False
        self.record_event(job_id, message, level=level)
        return True

    def record_event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        EventRepository(self.session).add(
            JobEvent(
                id=new_id("ftevent-"),
                job_id=job_id,
                created_at=int(time.time()),
                level=level,
                message=message,
                type=type,
                data=data,
            )
        )

    def _set(
        self,
        job_id: str,
        expect: set[JobStatus] | frozenset[JobStatus] | None,
        values: dict[str, Any],
    ) -> bool:
        query = jobs.update().where(jobs.c.id == job_id)
        if expect is not None:
            query = query.where(jobs.c.status.in_([s.value for s in expect]))
        result = self.session.execute(query.values(**values))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def queued_with_projects(self, limit: int) -> list[tuple[str, str]]:
        """``(job_id, project)`` of queued jobs, oldest first."""
        query = (
            sa.select(jobs.c.id, jobs.c.project)
            .where(jobs.c.status == JobStatus.QUEUED.value)
            .order_by(jobs.c.seq.asc())
            .limit(limit)
        )
        return [(job_id, project) for job_id, project in self.session.execute(query).all()]

    def waiting_count(self, project: str) -> int:
        """Jobs of ``project`` not yet started: validating_files or queued."""
        waiting = [JobStatus.VALIDATING_FILES.value, JobStatus.QUEUED.value]
        query = sa.select(sa.func.count()).where(
            jobs.c.project == project, jobs.c.status.in_(waiting)
        )
        return int(self.session.execute(query).scalar_one())

    def running_per_project(self) -> dict[str, int]:
        query = (
            sa.select(jobs.c.project, sa.func.count())
            .where(jobs.c.status == JobStatus.RUNNING.value)
            .group_by(jobs.c.project)
        )
        return {project: int(count) for project, count in self.session.execute(query).all()}

    def running_workers(self) -> dict[str, str | None]:
        """``{job_id: worker}`` of every running job (``worker`` as the scheduler wrote it)."""
        query = sa.select(jobs.c.id, jobs.c.worker).where(jobs.c.status == JobStatus.RUNNING.value)
        return {job_id: worker for job_id, worker in self.session.execute(query).all()}

    def running_projects(self) -> dict[str, str]:
        """``{job_id: project}`` of every running job."""
        query = sa.select(jobs.c.id, jobs.c.project).where(jobs.c.status == JobStatus.RUNNING.value)
        return {job_id: project for job_id, project in self.session.execute(query).all()}

    def count_by_status(self) -> dict[str, int]:
        query = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        return {status: int(count) for status, count in self.session.execute(query).all()}


class EventRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, event: JobEvent) -> None:
        self.session.execute(
            job_events.insert().values(
                id=event.id,
                job_id=event.job_id,
                created_at=event.created_at,
                level=event.level,
                message=event.message,
                type=event.type,
                data=event.data,
            )
        )

    def delete_step_metrics(self, job_id: str, step: int) -> int:
        """Delete the job's ``metrics`` events of ``step``; returns how many there were."""
        query = sa.select(job_events.c.seq, job_events.c.data).where(
            job_events.c.job_id == job_id, job_events.c.type == "metrics"
        )
        seqs = [
            seq for seq, data in self.session.execute(query) if (data or {}).get("step") == step
        ]
        if seqs:
            self.session.execute(job_events.delete().where(job_events.c.seq.in_(seqs)))
        return len(seqs)

    def page(self, job_id: str, *, after: str | None, limit: int) -> tuple[list[JobEvent], bool]:
        page = fetch_page(
            self.session, job_events, job_events.c.job_id == job_id, after=after, limit=limit
        )
        return [_event(row) for row in page.rows], page.has_more

    def recent_metrics(self, job_id: str, limit: int) -> list[dict[str, Any]]:
        """The data of the job's latest ``limit`` metrics events, newest first."""
        query = (
            sa.select(job_events.c.data)
            .where(job_events.c.job_id == job_id, job_events.c.type == "metrics")
            .order_by(job_events.c.seq.desc())
            .limit(limit)
        )
        return [data for (data,) in self.session.execute(query).all() if data]


class CheckpointRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, checkpoint: Checkpoint) -> None:
        self.session.execute(
            checkpoints.insert().values(
                id=checkpoint.id,
                job_id=checkpoint.job_id,
                created_at=checkpoint.created_at,
                step_number=checkpoint.step_number,
                fine_tuned_model_checkpoint=checkpoint.fine_tuned_model_checkpoint,
                metrics=checkpoint.metrics,
                blob_dir=checkpoint.blob_dir,
            )
        )

    def page(self, job_id: str, *, after: str | None, limit: int) -> tuple[list[Checkpoint], bool]:
        page = fetch_page(
            self.session, checkpoints, checkpoints.c.job_id == job_id, after=after, limit=limit
        )
        return [_checkpoint(row) for row in page.rows], page.has_more

    def get_step(self, job_id: str, step: int) -> Checkpoint | None:
        query = sa.select(checkpoints).where(
            checkpoints.c.job_id == job_id, checkpoints.c.step_number == step
        )
        row = self.session.execute(query).first()
        return _checkpoint(row) if row else None

    def latest(self, job_id: str) -> Checkpoint | None:
        query = (
            sa.select(checkpoints)
            .where(checkpoints.c.job_id == job_id)
            .order_by(checkpoints.c.step_number.desc())
            .limit(1)
        )
        row = self.session.execute(query).first()
        return _checkpoint(row) if row else None

    def delete_step(self, job_id: str, step: int) -> None:
        self.session.execute(
            checkpoints.delete().where(
                checkpoints.c.job_id == job_id, checkpoints.c.step_number == step
            )
        )
