"""The FastAPI app factory: long-lived objects are built in the lifespan and kept on app.state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from openrft.api.errors import install_error_handlers
from openrft.api.routes import dashboard, health
from openrft.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the app; nothing heavy happens until the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        yield

    app = FastAPI(title="openrft", lifespan=lifespan)
    install_error_handlers(app)
    # Routers: one line per resource. Routes under /v1 need a key once any key exists.
    app.include_router(health.router)
    app.include_router(dashboard.router)
    return app
