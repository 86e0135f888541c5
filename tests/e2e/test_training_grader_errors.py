"""Grader errors never pose as rewards: a job whose grader fails on every sample pauses, with an
event quoting the error, instead of training on zeros (issue 15, point 2)."""

from __future__ import annotations

import json

from tests.integration.conftest import ServerHandle, server, upload_jsonl, wait_for_status

__all__ = ["server"]  # the session fixture, imported so pytest finds it here

ALWAYS_RAISES = {
    "type": "python",
    "name": "broken",
    "source": "def grade(sample, item):\n    return 1 / 0\n",
}


def test_a_job_whose_grader_always_errors_pauses_with_a_clear_event(server: ServerHandle) -> None:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=upload_jsonl(client, rows=4),
        validation_file=upload_jsonl(client, rows=2, name="valid.jsonl"),
        seed=3,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": ALWAYS_RAISES,
                "hyperparameters": {
                    "batch_size": 2,
                    "group_size": 2,
                    "max_completion_tokens": 4,
                    "lora_rank": 2,
                },
            },
        },
    )
    done = wait_for_status(client, job.id, {"paused", "succeeded", "failed"}, timeout_s=120)
    assert done.status == "paused", (done.error, server.log_tail())
    assert done.fine_tuned_model is None
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    assert not any(e.type == "metrics" for e in events)  # no step was trained or reported
    [error] = [e for e in events if e.level == "error"]
    assert error.message.startswith("Paused before training step 1: the grader failed on 4 of 4")
    assert "max_grader_error_rate=0.2" in error.message
    assert "python_grader_runtime_error" in error.message
    assert "ZeroDivisionError" in error.message
    data = json.loads(json.dumps(error.data))  # the event data survives the wire
    assert data["grader_error_rate"] == 1.0 and data["errors"][0]["count"] == 4
