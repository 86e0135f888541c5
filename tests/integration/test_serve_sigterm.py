"""SIGTERM to a real ``openrft serve``: it asks the running job to checkpoint, puts it back in
``queued``, shuts down cleanly, and the next start resumes the job from that checkpoint."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import start_server, start_waiting_job, wait_for_status
from tests.integration.fake_worker import __file__ as FAKE_WORKER


@pytest.mark.timeout(300)
def test_sigterm_requeues_the_running_job_and_a_restart_resumes_it(tmp_path: Path) -> None:
    env = {
        "OPENRFT_WORKER_COMMAND": json.dumps([sys.executable, FAKE_WORKER]),
        "OPENRFT_SHUTDOWN_GRACE_S": "60",
    }
    with start_server(tmp_path / "data", env=env) as first:
        job_id = start_waiting_job(first.client())
        first.process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once its shutdown completed: killed by SIGTERM is normal.
        assert first.process.wait(timeout=120) in (0, -signal.SIGTERM)
        assert "Application shutdown complete." in first.log_tail()
    with start_server(tmp_path / "data", env=env) as second:
        client = second.client()
        messages = [e.message for e in client.fine_tuning.jobs.list_events(job_id).data]
        assert any("requeued" in m for m in messages), messages
        wait_for_status(client, job_id, {"running"})
        deadline = time.monotonic() + 120
        while not any(
            "Resumed from step-1" in e.message
            for e in client.fine_tuning.jobs.list_events(job_id).data
        ):
            assert time.monotonic() < deadline, second.log_tail()
            time.sleep(0.5)
        client.fine_tuning.jobs.cancel(job_id)
