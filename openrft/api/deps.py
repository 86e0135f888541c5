"""Request dependencies: the caller (project and bearer key) and the services.

Routers take ``project: ProjectDep`` (or ``caller: CallerDep``) and e.g. ``jobs: JobServiceDep``;
the objects themselves are built once in the app lifespan and kept on ``app.state.services``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header, Request

from openrft.services.chat import ChatService
from openrft.services.files import FileService
from openrft.services.graders import GraderService
from openrft.services.jobs import JobService
from openrft.services.keys import KeyService, bearer_key
from openrft.services.models import ModelService
from openrft.services.preflight import PreflightService
from openrft.services.reports import ReportService
from openrft.services.responses import ResponsesService
from openrft.services.samples import SampleService
from openrft.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: sa.Engine
    keys: KeyService
    files: FileService
    jobs: JobService
    models: ModelService
    chat: ChatService
    responses: ResponsesService
    graders: GraderService
    preflight: PreflightService


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its project, and the key it sent (None on a keyless server)."""

    project: str
    api_key: str | None


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def current_caller(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Caller:
    """The project owning the bearer key (401 on a missing or wrong key once keys exist; 403
    for a job credential outside the paths it may call)."""
    project = services.keys.authenticate(authorization, request.url.path)
    return Caller(project, bearer_key(authorization))


CallerDep = Annotated[Caller, Depends(current_caller)]


def current_project(caller: CallerDep) -> str:
    return caller.project


def _service(name: str) -> Callable[[Services], Any]:
    """A dependency returning the service ``name`` of ``Services``."""

    def get(services: ServicesDep) -> Any:
        return getattr(services, name)

    return get


ProjectDep = Annotated[str, Depends(current_project)]
FileServiceDep = Annotated[FileService, Depends(_service("files"))]
JobServiceDep = Annotated[JobService, Depends(_service("jobs"))]
ModelServiceDep = Annotated[ModelService, Depends(_service("models"))]
ChatServiceDep = Annotated[ChatService, Depends(_service("chat"))]
ResponsesServiceDep = Annotated[ResponsesService, Depends(_service("responses"))]
GraderServiceDep = Annotated[GraderService, Depends(_service("graders"))]
PreflightServiceDep = Annotated[PreflightService, Depends(_service("preflight"))]


def get_sample_service(services: ServicesDep) -> SampleService:
    return SampleService(services.jobs.sessions)


def get_report_service(services: ServicesDep) -> ReportService:
    return ReportService(services.jobs.sessions)


SampleServiceDep = Annotated[SampleService, Depends(get_sample_service)]
ReportServiceDep = Annotated[ReportService, Depends(get_report_service)]
