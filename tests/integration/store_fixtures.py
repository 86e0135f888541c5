"""A migrated database (SQLite file or a fresh PostgreSQL schema) plus services on top of it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from openrft.db.engine import make_engine, make_session_factory, upgrade_database
from openrft.graders import ValidationContext
from openrft.ids import random_suffix
from openrft.services.files import FileService
from openrft.services.job_runtime import JobRuntime
from openrft.services.jobs import JobService
from openrft.services.keys import KeyService
from openrft.services.models import ModelService
from openrft.settings import Settings
from openrft.storage.blobs import BlobStore, open_blob_store
from tests.conftest import require_postgres

BASES = {"tiny-random-llama": "tiny-random-llama", "base-b": "base-b"}


def fake_model_resolver(name: Any) -> str:
    """Store tests exercise the database, not the model registry."""
    from openrft.errors import InvalidRequestError

    if name not in BASES:
        raise InvalidRequestError(f"The model '{name}' does not exist.", param="model")
    return BASES[name]


@dataclass
class Store:
    engine: sa.Engine
    settings: Settings
    keys: KeyService
    files: FileService
    jobs: JobService
    models: ModelService
    runtime: JobRuntime
    blobs: BlobStore


@contextmanager
def postgres_schema(prefix: str = "openrft_test") -> Iterator[str]:
    """A fresh schema on the test PostgreSQL, dropped afterwards; yields a URL using it."""
    url = require_postgres()
    schema = f"{prefix}_{random_suffix(10).lower()}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _postgres_engine() -> Iterator[sa.Engine]:
    with postgres_schema() as url:
        engine = sa.create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Services on a migrated SQLite file or PostgreSQL schema, blobs under ``tmp_path``;
    ``memory``: SQLite, the blobs in fsspec's in-memory file system, local copies in
    ``tmp_path/blob-cache`` and a data dir that nothing should create."""
    if request.param == "postgres":
        engines: Iterator[sa.Engine] = _postgres_engine()
    else:
        engines = iter([make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")])
    engine = next(engines)
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    memory = f"memory://openrft-{random_suffix(10)}" if request.param == "memory" else None
    settings = Settings(
        data_dir=tmp_path / "data" if memory else tmp_path,
        database_url=str(engine.url),
        storage_url=memory,
        blob_cache_dir=tmp_path / "blob-cache",
    )
    blobs = open_blob_store(settings)
    yield Store(
        engine=engine,
        settings=settings,
        keys=KeyService(sessions),
        files=FileService(sessions, blobs, max_upload_bytes=1 << 20),
        jobs=JobService(
            sessions,
            blobs,
            lambda _project: ValidationContext(base_dir=tmp_path),
            resolve_model=fake_model_resolver,
        ),
        models=ModelService(sessions, blobs, lambda: list(BASES), fake_model_resolver),
        runtime=JobRuntime(settings, engine=engine),
        blobs=blobs,
    )
    engine.dispose()
    if memory is not None and blobs.fs.exists(blobs.root):
        blobs.fs.rm(blobs.root, recursive=True)
    for _ in engines:  # runs the PostgreSQL teardown
        pass
