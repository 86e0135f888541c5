"""An ``async_rollouts`` job on tiny-random-llama through the API: the worker generates each
next step on a pinned copy of the policy while the current step trains."""

from __future__ import annotations

from tests.e2e.test_training_smoke import FUZZY, _rows, _upload
from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]  # the session fixture, imported so pytest finds it here


def test_async_job_trains_one_step_ahead_and_reports_staleness_and_gap(
    server: ServerHandle,
) -> None:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=_upload(client, _rows(6), "train.jsonl"),
        validation_file=_upload(client, _rows(2), "valid.jsonl"),
        seed=5,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": FUZZY,
                "hyperparameters": {
                    "batch_size": 2,
                    "group_size": 4,
                    "n_epochs": 1,
                    "eval_interval": 2,
                    "max_completion_tokens": 8,
                    "lora_rank": 4,
                    "lora_alpha": 8,
                    "learning_rate": 3e-2,
                    "async_rollouts": True,
                    # The sampler's only gap from the trainer is then the staleness.
                    "rollout_dtype": "float32",
                },
            },
        },
    )
    assert job.method.reinforcement.hyperparameters.async_rollouts is True  # echoed
    done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=180)
    assert done.status == "succeeded", (done.error, server.log_tail())
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    metrics = sorted((e.data for e in events if e.type == "metrics"), key=lambda m: m["step"])
    assert [(m["step"], m["async/staleness"]) for m in metrics] == [(1, 0), (2, 1), (3, 1)]
    # Steps 2 and 3 sampled with the weights before the previous update: the gap shows it.
    assert all(
        m["sampling/logp_gap_mean"] > metrics[0]["sampling/logp_gap_mean"] for m in metrics[1:]
    )
    assert ["timing/eval_s" in m for m in metrics] == [False, True, True]
    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert sorted(c.step_number for c in checkpoints) == [2, 3]
