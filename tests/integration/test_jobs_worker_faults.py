"""Workers that run out of memory or disk, or past the maximum job time: a clear error code."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrft.domain.jobs import JobStatus
from tests.integration.store_fixtures import Store
from tests.integration.test_jobs_scheduler import _executor, _queued_job, _status, _until

pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)

SIGKILL_SELF = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
ENOSPC = (
    "import errno, os\n"
    "raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), 'ckpt/adapter.safetensors')"
)
MEMORY_ERROR = "raise MemoryError()"


@pytest.mark.parametrize(
    ("script", "code", "says"),
    [
        (SIGKILL_SELF, "out_of_memory", "out-of-memory killer"),
        (ENOSPC, "out_of_disk", "ran out of disk space"),
        (MEMORY_ERROR, "out_of_memory", "ran out of memory"),
        ("import sys; sys.exit(2)", "worker_died", "exited with code 2"),
    ],
)
def test_worker_exit_is_classified(
    store: Store, tmp_path: Path, script: str, code: str, says: str
) -> None:
    job_id = _queued_job(store)
    executor = _executor(store, tmp_path, script)
    _until(lambda: _status(store, job_id) == JobStatus.FAILED, executor)
    error = store.jobs.retrieve("p", job_id).error
    assert error is not None and error["code"] == code
    assert says in error["message"]


def test_job_over_the_maximum_time_fails_and_frees_its_slot(store: Store, tmp_path: Path) -> None:
    slow, next_job = _queued_job(store), _queued_job(store)
    executor = _executor(store, tmp_path, "import time; time.sleep(120)", max_job_seconds=0.5)
    executor.tick()
    assert _status(store, slow) == JobStatus.RUNNING
    _until(lambda: _status(store, slow) == JobStatus.FAILED, executor)
    error = store.jobs.retrieve("p", slow).error
    assert error is not None and error["code"] == "job_timeout"
    assert "OPENRFT_MAX_JOB_SECONDS" in error["message"]
    _until(lambda: _status(store, next_job) == JobStatus.RUNNING, executor)
    executor.stop(timeout_s=5)
