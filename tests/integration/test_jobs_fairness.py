"""Two projects on one scheduler: a hostile job in one never keeps the other's job queued."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from openrft.domain.grader_limits import DEFAULT_GRADER_LIMITS as CAPS
from openrft.domain.jobs import JobStatus
from openrft.errors import RateLimitError
from openrft.executors.local import LocalExecutor
from openrft.services.jobs import CreateJob
from tests.integration.fake_worker import __file__ as FAKE_WORKER
from tests.integration.store_fixtures import Store

ROW = {"messages": [{"role": "user", "content": "x"}]}
HANG = "import time\n\ndef handler(event, context):\n    time.sleep(10**6)\n"


def _job(store: Store, project: str, grader: dict) -> str:
    file_id = store.files.create(project, "t.jsonl", "fine-tune", json.dumps(ROW).encode()).id
    method = {"type": "reinforcement", "reinforcement": {"grader": grader}}
    job = CreateJob("tiny-random-llama", file_id, method=method, metadata={"fake_worker": "wait"})
    return store.jobs.create(project, job).id


@pytest.mark.timeout(120)
def test_other_projects_job_starts_in_the_first_pass(store: Store, tmp_path: Path) -> None:
    (tmp_path / "hang.py").write_text(HANG)
    hostile = {
        "type": "lambda",
        "lambda": {
            "function": "hang.py:handler",
            "max_retries": CAPS.lambda_retries,
            "timeout_s": CAPS.lambda_timeout_s,
        },
    }
    plain = {"type": "string_check", "name": "g", "input": "a", "reference": "a", "operation": "eq"}
    greedy = [_job(store, "greedy", hostile) for _ in range(3)]
    victim = _job(store, "victim", plain)
    executor = LocalExecutor(
        store.jobs.sessions,
        data_dir=tmp_path,
        worker_env={
            "OPENRFT_DATA_DIR": str(tmp_path),
            "OPENRFT_DATABASE_URL": str(store.engine.url),
        },
        max_concurrent_jobs=2,
        worker_command=lambda job_id: [sys.executable, FAKE_WORKER, job_id],
    )
    try:
        executor.tick()
        status = {
            job_id: store.jobs.retrieve(p, job_id).status
            for p, ids in (("greedy", greedy), ("victim", [victim]))
            for job_id in ids
        }
        # A global FIFO would have started greedy[0] and greedy[1].
        assert status[victim] == JobStatus.RUNNING
        assert [status[j] for j in greedy] == [
            JobStatus.RUNNING,
            JobStatus.QUEUED,
            JobStatus.QUEUED,
        ]
    finally:
        executor.stop(timeout_s=5)


def test_queued_jobs_per_project_are_capped(store: Store) -> None:
    plain = {"type": "string_check", "name": "g", "input": "a", "reference": "a", "operation": "eq"}
    store.jobs.max_queued_per_project = 2
    kept = [_job(store, "greedy", plain) for _ in range(2)]
    with pytest.raises(RateLimitError, match="OPENRFT_MAX_QUEUED_JOBS_PER_PROJECT") as info:
        _job(store, "greedy", plain)
    assert info.value.code == "too_many_queued_jobs"
    assert [job.id for job in store.jobs.list("greedy", after=None, limit=10, metadata={})[0]] == (
        kept[::-1]
    )
    _job(store, "victim", plain)  # another project is not affected
