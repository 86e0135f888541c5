"""The only SQL for rollout samples and job reports."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from openrft.db.pagination import fetch_page
from openrft.db.tables import job_reports, job_samples
from openrft.domain.samples import RolloutSample, SampleFilter, Split, StoredSample
from openrft.ids import new_id

# Rows read per query when streaming every sample of a job (the results file).
_STREAM_CHUNK = 500


def _stored(row: Any) -> StoredSample:
    split: Split = row.split
    return StoredSample(
        id=row.id,
        job_id=row.job_id,
        created_at=row.created_at,
        sample=RolloutSample(
            step=row.step,
            split=split,
            item=row.item,
            sample=row.sample_index,
            prompt=list(row.prompt),
            completion=row.completion,
            reward=row.reward,
            finish_reason=row.finish_reason,
            completion_tokens=row.completion_tokens,
            prompt_tokens=row.prompt_tokens,
            scores=dict(row.scores),
            errors=list(row.errors),
            advantage=row.advantage,
        ),
    )


def _where(job_id: str, query: SampleFilter) -> sa.ColumnElement[bool]:
    clauses = [job_samples.c.job_id == job_id]
    if query.step is not None:
        clauses.append(job_samples.c.step == query.step)
    if query.split is not None:
        clauses.append(job_samples.c.split == query.split)
    if query.min_reward is not None:
        clauses.append(job_samples.c.reward >= query.min_reward)
    if query.max_reward is not None:
        clauses.append(job_samples.c.reward <= query.max_reward)
    return sa.and_(*clauses)


class SampleRepository:
    def __init__(self, session: Session):
        self.session = session

    def replace_step(self, job_id: str, samples: Sequence[RolloutSample]) -> None:
        """Store ``samples``; earlier samples of the same (split, step) are dropped first, so a
        step that runs again (resume after a crash) never appears twice."""
        for split, step in sorted({(s.split, s.step) for s in samples}):
            self.session.execute(
                job_samples.delete().where(
                    job_samples.c.job_id == job_id,
                    job_samples.c.split == split,
                    job_samples.c.step == step,
                )
            )
        now = int(time.time())
        if samples:
            self.session.execute(
                job_samples.insert(), [self._values(job_id, now, s) for s in samples]
            )

    @staticmethod
    def _values(job_id: str, now: int, s: RolloutSample) -> dict[str, Any]:
        return {
            "id": new_id("ftsample-"),
            "job_id": job_id,
            "created_at": now,
            "step": s.step,
            "split": s.split,
            "item": s.item,
            "sample_index": s.sample,
            "prompt": s.prompt,
            "completion": s.completion,
            "reward": s.reward,
            "scores": s.scores,
            "errors": s.errors,
            "advantage": s.advantage,
            "finish_reason": s.finish_reason,
            "completion_tokens": s.completion_tokens,
            "prompt_tokens": s.prompt_tokens,
        }

    def page(
        self, job_id: str, query: SampleFilter, *, after: str | None, limit: int
    ) -> tuple[list[StoredSample], bool]:
        """Oldest first: by step, then item, then sample, as they were recorded."""
        page = fetch_page(
            self.session,
            job_samples,
            _where(job_id, query),
            after=after,
            limit=limit,
            descending=False,
        )
        return [_stored(row) for row in page.rows], page.has_more

    def all(self, job_id: str, query: SampleFilter | None = None) -> Iterator[StoredSample]:
        """Every matching sample, oldest first, read in chunks."""
        where = _where(job_id, query or SampleFilter())
        last = 0
        while True:
            rows = self.session.execute(
                sa.select(job_samples)
                .where(where, job_samples.c.seq > last)
                .order_by(job_samples.c.seq.asc())
                .limit(_STREAM_CHUNK)
            ).all()
            yield from (_stored(row) for row in rows)
            if len(rows) < _STREAM_CHUNK:
                return
            last = rows[-1].seq

    def steps(self, job_id: str, split: Split) -> list[int]:
        """The steps that have samples of ``split``, ascending."""
        query = (
            sa.select(job_samples.c.step)
            .where(job_samples.c.job_id == job_id, job_samples.c.split == split)
            .distinct()
            .order_by(job_samples.c.step.asc())
        )
        return [int(step) for step in self.session.execute(query).scalars()]


class ReportRepository:
    def __init__(self, session: Session):
        self.session = session

    def put(self, job_id: str, report: dict[str, Any]) -> None:
        """Store (or replace) the job's report."""
        self.session.execute(job_reports.delete().where(job_reports.c.job_id == job_id))
        self.session.execute(
            job_reports.insert().values(job_id=job_id, created_at=int(time.time()), report=report)
        )

    def get(self, job_id: str) -> dict[str, Any] | None:
        query = sa.select(job_reports.c.report).where(job_reports.c.job_id == job_id)
        report = self.session.execute(query).scalar_one_or_none()
        return dict(report) if report is not None else None
