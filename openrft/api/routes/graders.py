"""``/v1/fine_tuning/alpha/graders``: run a grader on one sample, or validate it."""

from __future__ import annotations

from fastapi import APIRouter

from openrft.api.deps import CallerDep, GraderServiceDep, ProjectDep
from openrft.protocol.graders import (
    RunGraderRequest,
    RunGraderResponse,
    ValidateGraderRequest,
    ValidateGraderResponse,
)

router = APIRouter(prefix="/v1/fine_tuning/alpha/graders", tags=["graders"])


@router.post("/run")
async def run_grader(
    body: RunGraderRequest, caller: CallerDep, graders: GraderServiceDep
) -> RunGraderResponse:
    """Model graders call this server back with the caller's own key."""
    return await graders.run(
        body.grader,
        body.model_sample,
        body.item,
        project=caller.project,
        api_key=caller.api_key,
    )


@router.post("/validate")
def validate_grader(
    body: ValidateGraderRequest, project: ProjectDep, graders: GraderServiceDep
) -> ValidateGraderResponse:
    return ValidateGraderResponse(grader=graders.validate(body.grader, project))
