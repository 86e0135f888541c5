"""Request dependencies: the caller's project (from the bearer key) and the services.

Routers take ``project: ProjectDep`` and e.g. ``jobs: JobServiceDep``; the objects themselves
are built once in the app lifespan and kept on ``app.state.services``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Header, Request

from openrft.services.files import FileService
from openrft.services.jobs import JobService
from openrft.services.keys import KeyService
from openrft.services.models import ModelService
from openrft.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: sa.Engine
    keys: KeyService
    files: FileService
    jobs: JobService
    models: ModelService


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def current_project(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The project owning the bearer key (401 on a missing or wrong key once keys exist)."""
    return services.keys.authenticate(authorization)


def get_files(services: ServicesDep) -> FileService:
    return services.files


def get_jobs(services: ServicesDep) -> JobService:
    return services.jobs


def get_models(services: ServicesDep) -> ModelService:
    return services.models


ProjectDep = Annotated[str, Depends(current_project)]
FileServiceDep = Annotated[FileService, Depends(get_files)]
JobServiceDep = Annotated[JobService, Depends(get_jobs)]
ModelServiceDep = Annotated[ModelService, Depends(get_models)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
