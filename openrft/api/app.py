"""The FastAPI app factory: long-lived objects are built in the lifespan and kept on app.state."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from openrft.api.deps import Services
from openrft.api.errors import install_error_handlers
from openrft.api.limits import BodyLimitMiddleware, RateLimitMiddleware
from openrft.api.routes import (
    chat,
    dashboard,
    files,
    graders,
    health,
    jobs,
    metrics,
    models,
    preflight,
    responses,
    samples,
)
from openrft.api.routes.metrics import HttpMetrics, JobStatusCollector, RunningJobsCollector
from openrft.db.engine import make_engine, make_session_factory, upgrade_database
from openrft.domain.datasets import JsonlLimits
from openrft.executors.local import LocalExecutor
from openrft.executors.ray_address import RayUnreachableError, check_ray_address
from openrft.graders.sandbox.launch import isolation_warning
from openrft.inference.vllm_server import vllm_python
from openrft.net.egress import EgressPolicy
from openrft.services.chat import build_chat_service
from openrft.services.files import FileService
from openrft.services.grader_sources import GraderSources
from openrft.services.graders import GraderService
from openrft.services.job_credentials import JobCredentials
from openrft.services.jobs import JobService
from openrft.services.keys import DEFAULT_PROJECT, KeyService
from openrft.services.models import build_model_service
from openrft.services.preflight import PreflightService
from openrft.services.responses import ResponsesService
from openrft.settings import Settings
from openrft.storage.blobs import open_blob_store
from openrft.storage.private import make_private

log = logging.getLogger("openrft.server")


class StartupRefusedError(RuntimeError):
    """The server must not start with these settings; the message says what to change."""


class UnsafeBindError(StartupRefusedError):
    """Serving without any API key on a non-loopback address."""


def check_executor(settings: Settings) -> None:
    """``--executor ray``: the ray package is installed and ``--ray-address`` answers."""
    if settings.executor != "ray":
        return
    try:
        check_ray_address(settings.ray_address)
    except RayUnreachableError as exc:
        raise StartupRefusedError(str(exc)) from None
    if importlib.util.find_spec("ray") is None:
        raise StartupRefusedError(
            "--executor ray needs the ray package: pip install 'openrft[ray]' (make install "
            "does), or use --executor local."
        )


def build_executor(settings: Settings, sessions: sessionmaker[Session]) -> LocalExecutor:
    """The scheduler of ``--executor``: local subprocesses, or actors on a Ray cluster."""
    if settings.executor == "ray":
        from openrft.executors.ray_executor import RayExecutor

        try:
            return RayExecutor.from_settings(settings, sessions)
        except RayUnreachableError as exc:
            raise StartupRefusedError(str(exc)) from None
    return LocalExecutor.from_settings(settings, sessions)


def grader_base_dir(settings: Settings, *, keyed: bool) -> Path | None:
    """Where Lambda ``file.py:handler`` files are read: the setting; without it the working
    directory of a keyless (loopback-only, single-user) server, and nowhere once keys exist."""
    if settings.grader_base_dir is not None:
        return settings.grader_base_dir
    return None if keyed else Path.cwd()


def build_services(settings: Settings) -> Services:
    """Engine (migrated to head), blob store and every service; registers ``--api-key``.

    Raises UnsafeBindError when no key exists and the host is not a loopback address, and
    StartupRefusedError for an executor this build does not have.
    """
    check_executor(settings)
    make_private(settings.data_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    blobs = open_blob_store(settings)
    keys = KeyService(sessions, JobCredentials(settings.data_dir))
    if settings.api_key:
        keys.register(DEFAULT_PROJECT, settings.api_key)
    keyed = keys.auth_required()
    models = build_model_service(settings, sessions, blobs, keyed=keyed)
    resolve_base, aliases = models.resolve_base, models.aliases
    chat = build_chat_service(settings, models)
    files = FileService(
        sessions,
        blobs,
        settings.max_upload_bytes,
        JsonlLimits(settings.max_jsonl_line_bytes, settings.max_jsonl_rows),
        project_quota_bytes=settings.project_disk_quota_bytes,
        max_grader_source_bytes=settings.max_grader_source_bytes,
    )
    egress = EgressPolicy.from_settings(settings, keyed=keyed)
    sources = GraderSources(
        files,
        grader_base_dir(settings, keyed=keyed),
        egress,
        models,
        sandbox=settings.sandbox_isolation,
        limits=settings.grader_limits,
    )
    jobs = JobService(
        sessions,
        blobs,
        grader_context=sources.context,
        resolve_model=resolve_base,
        aliases=aliases,
        max_queued_per_project=settings.max_queued_jobs_per_project,
        vllm_installed=lambda: vllm_python(settings.vllm_python) is not None,
        quota_bytes=settings.project_disk_quota_bytes,
    )
    graders = GraderService.from_settings(settings, sources.context, egress)
    services = Services(
        settings=settings,
        engine=engine,
        keys=keys,
        files=files,
        jobs=jobs,
        models=models,
        chat=chat,
        responses=ResponsesService(chat),
        graders=graders,
        preflight=PreflightService(jobs, settings, graders.ctx),
    )
    if not settings.is_loopback and not services.keys.auth_required():
        engine.dispose()
        raise UnsafeBindError(
            f"Refusing to serve without an API key on {settings.host}: pass --api-key KEY "
            "(or create one with `openrft keys create --project NAME`), or bind 127.0.0.1."
        )
    return services


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Body size cap, and the per-key rate limit unless turned off (rate 0)."""
    app.add_middleware(
        BodyLimitMiddleware,
        max_request_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    if settings.rate_limit_per_second > 0:
        app.add_middleware(
            RateLimitMiddleware,
            per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
        )


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the database, services and scheduler start in the lifespan."""
    http_metrics = HttpMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        if warning := isolation_warning(settings.sandbox_isolation):
            log.warning(warning)
        app.state.settings = settings
        app.state.services = services
        app.state.metrics = http_metrics
        http_metrics.registry.register(JobStatusCollector(services.jobs.count_by_status))
        http_metrics.registry.register(RunningJobsCollector(services.jobs.live_metrics))
        executor = build_executor(settings, services.jobs.sessions)
        executor.start()
        try:
            yield
        finally:
            executor.stop(settings.shutdown_grace_s)
            services.chat.close()
            services.engine.dispose()

    app = FastAPI(title="openrft", lifespan=lifespan)
    install_error_handlers(app)
    http_metrics.install(app)
    install_limits(app, settings)
    # Routers: one line per resource. Routes under /v1 take ``project: ProjectDep`` (auth).
    app.include_router(health.router)
    app.include_router(dashboard.router)
    app.include_router(metrics.router)
    app.include_router(files.router)
    app.include_router(jobs.router)
    app.include_router(samples.router)
    app.include_router(models.router)
    app.include_router(graders.router)
    app.include_router(preflight.router)
    app.include_router(chat.router)
    app.include_router(responses.router)
    return app
