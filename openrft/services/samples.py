"""Rollout samples of a job: the paginated, filtered ``/samples`` list and the results file."""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.jobs_repo import JobRepository
from openrft.db.samples_repo import SampleRepository
from openrft.domain.samples import SPLITS, SampleFilter, StoredSample
from openrft.errors import InvalidRequestError, NotFoundError
from openrft.services.jobs import check_limit

SAMPLES_FILENAME = "samples.jsonl"


def check_filter(
    step: int | None, split: str | None, min_reward: float | None, max_reward: float | None
) -> SampleFilter:
    """The query as a filter; a 400 names the parameter to fix."""
    if step is not None and step < 0:
        raise InvalidRequestError(
            f"Invalid step {step}: use 0 (the baseline evaluation) or a training step.",
            param="step",
        )
    if split is not None and split not in SPLITS:
        raise InvalidRequestError(
            f"Invalid split {split!r}: use 'train' or 'valid'.", param="split"
        )
    if min_reward is not None and max_reward is not None and min_reward > max_reward:
        raise InvalidRequestError(
            f"Invalid reward range: min_reward {min_reward} is above max_reward {max_reward}.",
            param="min_reward",
        )
    return SampleFilter(step, split, min_reward, max_reward)


def ensure_job(session: Session, project: str, job_id: str) -> None:
    """404 unless ``job_id`` is a job of ``project``."""
    if JobRepository(session).get(job_id, project) is None:
        raise NotFoundError(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")


def sample_record(stored: StoredSample) -> dict[str, object]:
    """One line of ``samples.jsonl``: the sample's id and every recorded field."""
    return {"id": stored.id, **asdict(stored.sample)}


class SampleService:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def page(
        self, project: str, job_id: str, query: SampleFilter, *, after: str | None, limit: int
    ) -> tuple[list[StoredSample], bool]:
        """Samples of a job of ``project`` (404 for any other job), oldest first."""
        check_limit(limit)
        with self.sessions() as session:
            ensure_job(session, project, job_id)
            return SampleRepository(session).page(job_id, query, after=after, limit=limit)

    def jsonl(self, job_id: str) -> bytes:
        """Every sample of the job as JSON lines, oldest first (empty when none)."""
        with self.sessions() as session:
            lines = [
                json.dumps(sample_record(s), ensure_ascii=False)
                for s in SampleRepository(session).all(job_id)
            ]
        return "".join(line + "\n" for line in lines).encode("utf-8")
