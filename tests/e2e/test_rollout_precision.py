"""``rollout_dtype`` through the API: a job sampling with bfloat16 matmuls says so, echoes the
choice, and reports the sampler's log-prob gap that truncated importance sampling corrects; the
same job with float32 rollouts has none."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_training_smoke import FUZZY, _rows, _upload
from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]  # the session fixture, imported so pytest finds it here


def _run(server: ServerHandle, rollout_dtype: str) -> tuple[Any, list[Any]]:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=_upload(client, _rows(4), "train.jsonl"),
        seed=5,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": FUZZY,
                "hyperparameters": {
                    "batch_size": 2,
                    "group_size": 4,
                    "n_epochs": 1,
                    "max_completion_tokens": 8,
                    "lora_rank": 4,
                    "lora_alpha": 8,
                    "rollout_dtype": rollout_dtype,
                },
            },
        },
    )
    done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=180)
    assert done.status == "succeeded", (done.error, server.log_tail())
    return done, list(client.fine_tuning.jobs.list_events(job.id, limit=100))


def test_bfloat16_rollouts_are_announced_and_their_gap_reported(server: ServerHandle) -> None:
    gaps = {}
    for dtype in ("bfloat16", "float32"):
        job, events = _run(server, dtype)
        assert job.method.reinforcement.hyperparameters.rollout_dtype == dtype  # echoed
        announced = [e for e in events if e.data and e.data.get("rollout_dtype")]
        assert len(announced) == (1 if dtype == "bfloat16" else 0)
        metrics = [e.data for e in events if e.type == "metrics"]
        assert len(metrics) == 2
        gaps[dtype] = [m["sampling/logp_gap_mean"] for m in metrics]
    assert all(gap < 1e-4 for gap in gaps["float32"])  # sampler and trainer agree
    assert all(gap > 1e-3 for gap in gaps["bfloat16"])  # measured, then corrected
