"""``/metrics`` while a real tiny-random-llama job trains: parsed with prometheus_client's own
text parser, the job's series carry its latest step metrics, and leave when it stops."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import (
    STRING_CHECK,
    ServerHandle,
    server,
    upload_jsonl,
    wait_for_status,
)

__all__ = ["server"]  # the session fixture, imported so pytest finds it here

STEPS = 40  # long enough to scrape mid-run; the test cancels the job


def job_series(server: ServerHandle, job_id: str) -> dict[str, float]:
    """gauge name → value of every sample labelled with ``job_id``."""
    text = httpx.get(f"{server.root_url}/metrics", timeout=30).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("job") == job_id
    }


def first_metrics_event(client, job_id: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = client.fine_tuning.jobs.list_events(job_id, limit=100).data
        steps = [e.data for e in events if e.type == "metrics"]
        if steps:
            return steps[0]
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} logged no step within {timeout_s}s")


def test_a_running_jobs_series_are_on_metrics(server: ServerHandle) -> None:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=upload_jsonl(client, rows=STEPS),
        validation_file=upload_jsonl(client, rows=2, name="valid.jsonl"),
        seed=1,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": STRING_CHECK,
                "hyperparameters": {
                    "batch_size": 1,
                    "group_size": 2,
                    "n_epochs": 1,
                    "eval_interval": 1,
                    "eval_samples": 1,
                    "max_completion_tokens": 4,
                    "lora_rank": 2,
                    "lora_alpha": 4,
                    "early_stopping": {"patience": 100},  # runs until cancelled
                },
            },
        },
    )
    try:
        first_metrics_event(client, job.id)
        series = job_series(server, job.id)
        assert client.fine_tuning.jobs.retrieve(job.id).status == "running"  # scraped mid-run
    finally:
        client.fine_tuning.jobs.cancel(job.id)
    assert 1 <= series["openrft_job_step"] < STEPS
    assert series["openrft_job_total_steps"] == STEPS
    assert 0.0 <= series["openrft_job_train_reward_mean"] <= 1.0
    assert 0.0 <= series["openrft_job_valid_reward_mean"] <= 1.0
    assert series["openrft_job_grader_error_rate"] == 0.0
    assert series["openrft_job_rollout_tokens_per_second"] > 0
    assert series["openrft_job_step_seconds"] > 0
    wait_for_status(client, job.id, {"cancelled"}, timeout_s=600)
    assert job_series(server, job.id) == {}
