"""The whole server on PostgreSQL (``--database-url``): migrations at startup, a job end to end."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    FAKE_WORKER,
    ServerHandle,
    rft_method,
    start_server,
    upload_jsonl,
    wait_for_status,
)
from tests.integration.store_fixtures import postgres_schema

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A server whose database is a fresh PostgreSQL schema, dropped afterwards."""
    env = {"OPENRFT_WORKER_COMMAND": json.dumps([sys.executable, str(FAKE_WORKER)])}
    with (
        postgres_schema("openrft_srv") as url,
        start_server(
            Path(tmp_path_factory.mktemp("openrft-pg")),
            api_key="sk-pg",
            extra_args=("--database-url", url),
            env=env,
        ) as handle,
    ):
        yield handle


def test_job_runs_to_success_on_postgres(pg_server: ServerHandle) -> None:
    client = pg_server.client()
    assert not (pg_server.data_dir / "openrft.db").exists()
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=upload_jsonl(client),
        method=rft_method(),
        metadata={"db": "postgres"},
    )
    done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded", done.error
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"db": "postgres"})] == [job.id]
    assert done.fine_tuned_model in [m.id for m in client.models.list()]
    steps = [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id, limit=1)]
    assert steps == [2, 1]
