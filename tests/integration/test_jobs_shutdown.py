"""Graceful stop: running jobs checkpoint, go back to ``queued``, and resume on the next start."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from openrft.domain.jobs import JobStatus
from openrft.executors.local import LocalExecutor
from tests.integration.fake_worker import __file__ as FAKE_WORKER
from tests.integration.store_fixtures import Store
from tests.integration.test_jobs_fairness import _job
from tests.integration.test_jobs_scheduler import GRADER, _status, _until

pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


def _fake_executor(store: Store, tmp_path: Path) -> LocalExecutor:
    env = {"OPENRFT_DATA_DIR": str(tmp_path), "OPENRFT_DATABASE_URL": str(store.engine.url)}
    return LocalExecutor(
        store.jobs.sessions,
        data_dir=tmp_path,
        worker_env=env,
        worker_command=lambda job_id: [sys.executable, FAKE_WORKER, job_id],
    )


def _events(store: Store, job_id: str) -> list[str]:
    events, _ = store.jobs.events("p", job_id, after=None, limit=100)
    return [event.message for event in events]


@pytest.mark.timeout(120)
def test_stop_requeues_running_jobs_and_they_resume(store: Store, tmp_path: Path) -> None:
    job_id = _job(store, "p", GRADER)  # the fake worker waits until asked to pause
    first = _fake_executor(store, tmp_path)
    _until(lambda: any("Waiting at step 1" in m for m in _events(store, job_id)), first)
    first.stop(timeout_s=60)
    assert _status(store, job_id) == JobStatus.QUEUED
    assert any("requeued" in message for message in _events(store, job_id))
    second = _fake_executor(store, tmp_path)
    _until(lambda: any("Resumed from step-1" in m for m in _events(store, job_id)), second)
    second.stop(timeout_s=60)
