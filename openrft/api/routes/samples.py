"""``/v1/fine_tuning/jobs/{id}/samples`` (rollout samples) and ``/report`` (before/after)."""

from __future__ import annotations

from fastapi import APIRouter

from openrft.api.deps import ProjectDep, ReportServiceDep, SampleServiceDep
from openrft.protocol.samples import (
    FineTuningJobReport,
    FineTuningJobSample,
    FineTuningJobSampleList,
)
from openrft.services.samples import check_filter

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine_tuning"])


@router.get("/{job_id}/samples")
def list_samples(
    job_id: str,
    project: ProjectDep,
    samples: SampleServiceDep,
    step: int | None = None,
    split: str | None = None,
    min_reward: float | None = None,
    max_reward: float | None = None,
    after: str | None = None,
    limit: int = 20,
) -> FineTuningJobSampleList:
    """Oldest first (by step, then item, then sample); reward bounds are inclusive."""
    query = check_filter(step, split, min_reward, max_reward)
    data, has_more = samples.page(project, job_id, query, after=after, limit=limit)
    return FineTuningJobSampleList(
        data=[FineTuningJobSample.of(s) for s in data],
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=has_more,
    )


@router.get("/{job_id}/report")
def retrieve_report(
    job_id: str, project: ProjectDep, reports: ReportServiceDep
) -> FineTuningJobReport:
    return FineTuningJobReport(**reports.retrieve(project, job_id))
