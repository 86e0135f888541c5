"""The only SQL for fine-tuned models and checkpoint models."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from openrft.db.tables import models
from openrft.domain.records import ModelRecord


def _model(row: Any) -> ModelRecord:
    return ModelRecord(
        id=row.id,
        project=row.project,
        base_model=row.base_model,
        job_id=row.job_id,
        step_number=row.step_number,
        blob_dir=row.blob_dir,
        created_at=row.created_at,
        kind=row.kind,
        bytes=row.bytes,
    )


class ModelRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, record: ModelRecord) -> None:
        self.session.execute(
            models.insert().values(
                id=record.id,
                project=record.project,
                base_model=record.base_model,
                job_id=record.job_id,
                step_number=record.step_number,
                blob_dir=record.blob_dir,
                created_at=record.created_at,
                kind=record.kind,
                bytes=record.bytes,
            )
        )

    def get(self, project: str, model_id: str) -> ModelRecord | None:
        query = sa.select(models).where(models.c.project == project, models.c.id == model_id)
        row = self.session.execute(query).first()
        return _model(row) if row else None

    def for_project(self, project: str) -> list[ModelRecord]:
        query = sa.select(models).where(models.c.project == project).order_by(models.c.seq)
        return [_model(row) for row in self.session.execute(query)]

    def list_for_job(self, job_id: str) -> list[ModelRecord]:
        query = sa.select(models).where(models.c.job_id == job_id).order_by(models.c.seq)
        return [_model(row) for row in self.session.execute(query)]

    def total_bytes(self, project: str) -> int:
        """Bytes of ``project``'s checkpoints and fine-tuned models on disk. A fine-tuned model
        hard-links the checkpoint of its step: one (job, step) counts once, and still counts
        after either of the two is deleted."""
        per_step = (
            sa.select(sa.func.max(models.c.bytes).label("bytes"))
            .where(models.c.project == project)
            .group_by(models.c.job_id, models.c.step_number)
            .subquery()
        )
        query = sa.select(sa.func.coalesce(sa.func.sum(per_step.c.bytes), 0))
        return int(self.session.execute(query).scalar_one())

    def delete(self, model_id: str) -> None:
        self.session.execute(models.delete().where(models.c.id == model_id))
