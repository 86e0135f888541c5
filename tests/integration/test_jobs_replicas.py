"""Two ``openrft serve`` replicas on one PostgreSQL database and one (shared) data dir: ten jobs
queued through both run exactly once each, and both replicas take part."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.conftest import (
    FAKE_WORKER,
    rft_method,
    start_server,
    upload_jsonl,
    wait_for_status,
)
from tests.integration.store_fixtures import postgres_schema

pytestmark = pytest.mark.postgres

JOBS = 10


def test_two_replicas_run_each_of_ten_jobs_exactly_once(tmp_path: Path) -> None:
    env = {
        "OPENRFT_WORKER_COMMAND": json.dumps([sys.executable, str(FAKE_WORKER)]),
        "OPENRFT_MAX_CONCURRENT_JOBS": "2",  # so neither replica can take every job at once
    }
    data_dir = tmp_path / "shared-data"
    with (
        postgres_schema("openrft_replicas") as url,
        start_server(data_dir, extra_args=("--database-url", url), env=env) as first,
        start_server(data_dir, extra_args=("--database-url", url), env=env) as second,
    ):
        clients = [first.client(), second.client()]
        training_file = upload_jsonl(clients[0])
        job_ids = [
            clients[i % 2]
            .fine_tuning.jobs.create(
                model="tiny-random-llama", training_file=training_file, method=rft_method()
            )
            .id
            for i in range(JOBS)
        ]
        for job_id in job_ids:
            done = wait_for_status(clients[0], job_id, {"succeeded", "failed", "cancelled"}, 180)
            assert done.status == "succeeded", done.error
            events = clients[1].fine_tuning.jobs.list_events(job_id, limit=100).data
            assert [e.message for e in events].count("Fine-tuning job started") == 1
            assert [e.data["step"] for e in events if e.type == "metrics"] == [2, 1]
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            workers = conn.execute(sa.text("SELECT worker FROM jobs")).scalars().all()
        engine.dispose()
    servers = {worker.split(":")[1] for worker in workers}  # host:server_pid:worker_pid
    assert servers == {str(first.process.pid), str(second.process.pid)}
