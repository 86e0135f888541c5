"""Jobs that run their own preflight (``method.reinforcement.preflight``) on tiny-random-llama:
``warn`` records the report and trains; ``block`` fails a job whose grader cannot grade."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import ServerHandle, server, upload_jsonl, wait_for_status

__all__ = ["server"]  # the session fixture, imported so pytest finds it here

LENGTH = {
    "type": "python",
    "name": "length",
    "source": "def grade(sample, item):\n    return len(sample['output_text']) % 3 / 2\n",
}
ALWAYS_RAISES = {
    "type": "python",
    "name": "broken",
    "source": "def grade(sample, item):\n    return 1 / 0\n",
}
HYPERPARAMETERS = {"batch_size": 2, "group_size": 2, "max_completion_tokens": 4, "lora_rank": 2}


def create(server: ServerHandle, grader: dict[str, Any], mode: str) -> Any:
    client = server.client()
    return client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=upload_jsonl(client, rows=4),
        validation_file=upload_jsonl(client, rows=2, name="valid.jsonl"),
        seed=4,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": grader,
                "preflight": mode,
                "hyperparameters": {**HYPERPARAMETERS, "max_steps": 1},
            },
        },
    )


def test_preflight_warn_records_the_report_then_trains(server: ServerHandle) -> None:
    client = server.client()
    job = create(server, LENGTH, "warn")
    done = wait_for_status(client, job.id, {"succeeded", "failed", "paused"}, timeout_s=180)
    assert done.status == "succeeded", (done.error, server.log_tail())
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))[::-1]
    [event] = [e for e in events if (e.data or {}).get("preflight")]
    report = json.loads(json.dumps(event.data))["preflight"]
    assert event.message.startswith(f"Preflight {report['verdict']}: learnable fraction")
    assert report["forecast"]["steps"] == 1 and report["group_size"] == 2
    assert "prompts" not in report  # the samples stay in the result file
    first_metrics = next(i for i, e in enumerate(events) if e.type == "metrics")
    assert events.index(event) < first_metrics
    files = {client.files.retrieve(f).filename: f for f in done.result_files}
    full = json.loads(client.files.content(files["preflight.json"]).read())
    assert len(full["prompts"]) == 4 and full["verdict"] == report["verdict"]


def test_preflight_block_fails_a_job_whose_grader_always_errors(server: ServerHandle) -> None:
    client = server.client()
    job = create(server, ALWAYS_RAISES, "block")
    done = wait_for_status(client, job.id, {"succeeded", "failed", "paused"}, timeout_s=180)
    assert done.status == "failed", server.log_tail()
    assert done.error.code == "preflight_blocked"
    assert "max_grader_error_rate" in done.error.message
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    assert not any(e.type == "metrics" for e in events)
    [event] = [e for e in events if (e.data or {}).get("preflight")]
    assert event.level == "error"
