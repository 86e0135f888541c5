"""Pause a running tiny job through the API, resume it, and check it continues where it stopped.

The job has far more steps than the test lets it run: it is paused after its first metrics
event, resumed, and cancelled once the resumed worker has reported its next step, so the test
is deterministic and short.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]

STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


def _metrics_steps(client: Any, job_id: str) -> list[int]:
    events = client.fine_tuning.jobs.list_events(job_id, limit=100)
    return [e.data["step"] for e in events if e.type == "metrics"]


def _wait_for_step(client: Any, job_id: str, step: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while max(_metrics_steps(client, job_id), default=0) < step:
        assert time.monotonic() < deadline, f"job {job_id} never reported step {step}"
        time.sleep(0.2)


def test_pause_checkpoints_and_resume_continues_from_the_next_step(server: ServerHandle) -> None:
    client = server.client()
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}], "answer": "x"} for i in range(400)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    training_file = client.files.create(file=("many.jsonl", data), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=training_file,
        seed=5,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": STRING_CHECK,
                "hyperparameters": {
                    "batch_size": 1,
                    "group_size": 2,
                    "max_completion_tokens": 2,
                    "eval_interval": 1000,
                    "eval_samples": 1,
                    "lora_rank": 2,
                },
            },
        },
    )
    _wait_for_step(client, job.id, 1)
    client.fine_tuning.jobs.pause(job.id)
    paused = wait_for_status(client, job.id, {"paused", "failed"}, timeout_s=120)
    assert paused.status == "paused", paused.error
    stopped_at = max(_metrics_steps(client, job.id))
    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert [c.step_number for c in checkpoints] == [stopped_at]

    client.fine_tuning.jobs.resume(job.id)
    _wait_for_step(client, job.id, stopped_at + 1)
    client.fine_tuning.jobs.cancel(job.id)
    assert wait_for_status(client, job.id, {"cancelled"}, timeout_s=120).status == "cancelled"

    steps = sorted(_metrics_steps(client, job.id))
    assert steps == list(range(1, steps[-1] + 1))  # no step lost, none repeated
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert f"Resumed from the checkpoint of step {stopped_at}." in messages
