"""``/v1/fine_tuning/alpha/graders``: run a grader on one sample, or validate it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from openrft.api.deps import ProjectDep, SettingsDep
from openrft.protocol.graders import (
    RunGraderRequest,
    RunGraderResponse,
    ValidateGraderRequest,
    ValidateGraderResponse,
)
from openrft.services.graders import GraderService

router = APIRouter(prefix="/v1/fine_tuning/alpha/graders", tags=["graders"])


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


@router.post("/run")
async def run_grader(
    body: RunGraderRequest,
    project: ProjectDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> RunGraderResponse:
    service = GraderService.from_settings(settings, api_key=_bearer(authorization))
    return await service.run(body.grader, body.model_sample, body.item)


@router.post("/validate")
def validate_grader(
    body: ValidateGraderRequest, project: ProjectDep, settings: SettingsDep
) -> ValidateGraderResponse:
    return ValidateGraderResponse(
        grader=GraderService.from_settings(settings).validate(body.grader)
    )
