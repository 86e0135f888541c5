"""The local scheduler with real subprocesses: claims, concurrency cap, dead workers, cancel."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from openrft.db.jobs_repo import JobRepository
from openrft.domain.jobs import CreateJob, JobStatus
from openrft.executors.local import LocalExecutor
from tests.integration.store_fixtures import Store

pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)

ROW = {"messages": [{"role": "user", "content": "x"}]}
GRADER = {"type": "string_check", "name": "g", "input": "a", "reference": "a", "operation": "eq"}


def _queued_job(store: Store) -> str:
    file_id = store.files.create("p", "t.jsonl", "fine-tune", json.dumps(ROW).encode()).id
    method = {"type": "reinforcement", "reinforcement": {"grader": GRADER}}
    return store.jobs.create("p", CreateJob("tiny-random-llama", file_id, method=method)).id


def _executor(store: Store, tmp_path: Path, script: str, **kwargs: object) -> LocalExecutor:
    def command(job_id: str) -> list[str]:
        return [sys.executable, "-c", script, job_id]

    return LocalExecutor(
        store.jobs.sessions, data_dir=tmp_path, worker_env={}, worker_command=command, **kwargs
    )  # type: ignore[arg-type]


def _until(condition: Callable[[], bool], executor: LocalExecutor, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        executor.tick()
        time.sleep(0.05)


def _status(store: Store, job_id: str) -> JobStatus:
    return store.jobs.retrieve("p", job_id).status


def test_worker_exiting_without_finishing_fails_the_job(store: Store, tmp_path: Path) -> None:
    job_id = _queued_job(store)
    script = "import sys; print('boom: CUDA not found', file=sys.stderr); sys.exit(7)"
    executor = _executor(store, tmp_path, script)
    _until(lambda: _status(store, job_id) == JobStatus.FAILED, executor)
    error = store.jobs.retrieve("p", job_id).error
    assert error is not None and error["code"] == "worker_died"
    assert "it exited with code 7" in error["message"]
    assert "boom: CUDA not found" in error["message"]


def test_concurrency_cap_runs_jobs_one_at_a_time(store: Store, tmp_path: Path) -> None:
    first, second = _queued_job(store), _queued_job(store)
    executor = _executor(store, tmp_path, "import time; time.sleep(0.5)", max_concurrent_jobs=1)
    executor.tick()
    assert (_status(store, first), _status(store, second)) == (JobStatus.RUNNING, JobStatus.QUEUED)
    _until(lambda: _status(store, second) != JobStatus.QUEUED, executor)
    assert _status(store, first) == JobStatus.FAILED


def test_worker_ignoring_cancel_is_killed_after_grace(store: Store, tmp_path: Path) -> None:
    job_id = _queued_job(store)
    executor = _executor(store, tmp_path, "import time; time.sleep(120)", cancel_grace_s=0.3)
    executor.tick()
    assert _status(store, job_id) == JobStatus.RUNNING
    store.jobs.cancel("p", job_id)
    _until(lambda: _status(store, job_id) == JobStatus.CANCELLED, executor)
    assert executor.workers == {}
    assert store.jobs.retrieve("p", job_id).error is None


def test_unstartable_worker_fails_the_job(store: Store, tmp_path: Path) -> None:
    job_id = _queued_job(store)
    executor = LocalExecutor(
        store.jobs.sessions,
        data_dir=tmp_path,
        worker_env={},
        worker_command=lambda job_id: [str(tmp_path / "missing-binary"), job_id],
    )
    executor.tick()
    error = store.jobs.retrieve("p", job_id).error
    assert error is not None and "Could not start the training worker" in error["message"]


def test_stop_terminates_workers_and_records_it(store: Store, tmp_path: Path) -> None:
    job_id = _queued_job(store)
    executor = _executor(store, tmp_path, "import time; time.sleep(120)")
    executor.start()
    deadline = time.monotonic() + 30
    while _status(store, job_id) != JobStatus.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    executor.stop(timeout_s=5)
    error = store.jobs.retrieve("p", job_id).error
    assert error is not None and "the server stopped it while shutting down" in error["message"]


def _set_worker(store: Store, job_id: str, worker: str) -> None:
    with store.jobs.sessions.begin() as session:
        JobRepository(session).transition(
            job_id, JobStatus.RUNNING, source=JobStatus.QUEUED, message="started", worker=worker
        )


def test_orphaned_running_job_of_this_host_is_failed(store: Store, tmp_path: Path) -> None:
    gone, alive, elsewhere = _queued_job(store), _queued_job(store), _queued_job(store)
    dead_pid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    host = socket.gethostname()
    _set_worker(store, gone, f"{host}:1:{dead_pid}")
    _set_worker(store, alive, f"{host}:1:{os.getpid()}")
    _set_worker(store, elsewhere, f"other-host:1:{dead_pid}")
    executor = _executor(store, tmp_path, "pass", max_concurrent_jobs=1)
    executor._sweep_orphans()
    error = store.jobs.retrieve("p", gone).error
    assert error is not None and f"pid {dead_pid}" in error["message"]
    assert _status(store, alive) == JobStatus.RUNNING
    assert _status(store, elsewhere) == JobStatus.RUNNING
