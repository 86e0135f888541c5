"""``/v1/fine_tuning/jobs``: create, list, retrieve, cancel/pause/resume, events, checkpoints."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Request

from openrft.api.deps import JobServiceDep, ProjectDep
from openrft.protocol.jobs import (
    CreateFineTuningJobRequest,
    FineTuningJob,
    FineTuningJobCheckpoint,
    FineTuningJobCheckpointList,
    FineTuningJobEvent,
    FineTuningJobEventList,
    FineTuningJobList,
)
from openrft.services.idempotency import IdempotencyStore, request_hash

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine_tuning"])

_METADATA_PARAM = re.compile(r"^metadata\[(.+)\]$")


def metadata_filter(request: Request) -> dict[str, str]:
    """``?metadata[k]=v`` pairs (the SDK's deepObject encoding)."""
    pairs = {}
    for key, value in request.query_params.multi_items():
        match = _METADATA_PARAM.match(key)
        if match:
            pairs[match.group(1)] = value
    return pairs


@router.post("")
def create_job(
    body: CreateFineTuningJobRequest,
    project: ProjectDep,
    jobs: JobServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> FineTuningJob:
    """With ``Idempotency-Key``, a retry of the same request returns the first job."""
    request = body.to_service()
    if idempotency_key is None:
        return FineTuningJob.of(jobs.create(project, request))
    job_id = IdempotencyStore(jobs.sessions).once(
        project,
        "jobs",
        idempotency_key,
        request_hash(request),
        lambda: jobs.create(project, request).id,
    )
    return FineTuningJob.of(jobs.retrieve(project, job_id))


@router.get("")
def list_jobs(
    request: Request,
    project: ProjectDep,
    jobs: JobServiceDep,
    after: str | None = None,
    limit: int = 20,
) -> FineTuningJobList:
    data, has_more = jobs.list(project, after=after, limit=limit, metadata=metadata_filter(request))
    return FineTuningJobList(data=[FineTuningJob.of(j) for j in data], has_more=has_more)


@router.get("/{job_id}")
def retrieve_job(job_id: str, project: ProjectDep, jobs: JobServiceDep) -> FineTuningJob:
    return FineTuningJob.of(jobs.retrieve(project, job_id))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, project: ProjectDep, jobs: JobServiceDep) -> FineTuningJob:
    return FineTuningJob.of(jobs.cancel(project, job_id))


@router.post("/{job_id}/pause")
def pause_job(job_id: str, project: ProjectDep, jobs: JobServiceDep) -> FineTuningJob:
    return FineTuningJob.of(jobs.pause(project, job_id))


@router.post("/{job_id}/resume")
def resume_job(job_id: str, project: ProjectDep, jobs: JobServiceDep) -> FineTuningJob:
    return FineTuningJob.of(jobs.resume(project, job_id))


@router.get("/{job_id}/events")
def list_events(
    job_id: str,
    project: ProjectDep,
    jobs: JobServiceDep,
    after: str | None = None,
    limit: int = 20,
) -> FineTuningJobEventList:
    data, has_more = jobs.events(project, job_id, after=after, limit=limit)
    return FineTuningJobEventList(data=[FineTuningJobEvent.of(e) for e in data], has_more=has_more)


@router.get("/{job_id}/checkpoints")
def list_checkpoints(
    job_id: str,
    project: ProjectDep,
    jobs: JobServiceDep,
    after: str | None = None,
    limit: int = 10,
) -> FineTuningJobCheckpointList:
    data, has_more = jobs.checkpoints(project, job_id, after=after, limit=limit)
    return FineTuningJobCheckpointList(
        data=[FineTuningJobCheckpoint.of(c) for c in data],
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=has_more,
    )
