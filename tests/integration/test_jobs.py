"""Fine-tuning jobs through the official SDK against a live server running a fake worker."""

from __future__ import annotations

import openai

from tests.integration.conftest import (
    RFT_API_KEY,
    ServerHandle,
    rft_method,
    start_waiting_job,
    upload_jsonl,
    wait_for_status,
)

TERMINAL = {"succeeded", "failed", "cancelled"}


def _client(server: ServerHandle) -> openai.OpenAI:
    return server.client(RFT_API_KEY)


def test_job_succeeds_with_checkpoints_result_file_and_model(rft_server: ServerHandle) -> None:
    client = _client(rft_server)
    training = upload_jsonl(client, rows=20)
    created = client.fine_tuning.jobs.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        training_file=training,
        validation_file=upload_jsonl(client, rows=2, name="valid.jsonl"),
        suffix="arith",
        seed=7,
        method=rft_method(batchSize=4, trainingSamplePerPrompt=2, n_epochs="auto"),
    )
    assert created.status in {"queued", "running"} and created.seed == 7
    assert created.model == "SmolLM2-135M-Instruct"
    hp = created.method.reinforcement.hyperparameters.to_dict()
    assert (hp["batch_size"], hp["group_size"], hp["n_epochs"]) == (4, 2, 1)
    assert created.hyperparameters.batch_size == 4
    assert created.method.reinforcement.grader.type == "string_check"

    job = wait_for_status(client, created.id, TERMINAL)
    assert job.status == "succeeded", job.error
    model_id = f"ft:SmolLM2-135M-Instruct:default:arith:{created.id}"
    assert job.fine_tuned_model == model_id and job.trained_tokens == 200
    assert job.finished_at is not None and job.error is None

    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(created.id, limit=1))
    assert [c.step_number for c in checkpoints] == [2, 1]
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{model_id}:ckpt-step-2"
    assert checkpoints[0].metrics.to_dict()["train_reward_mean"] == 0.5

    events = list(client.fine_tuning.jobs.list_events(created.id, limit=2))
    assert events == client.fine_tuning.jobs.list_events(created.id, limit=100).data
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == [2, 1]
    assert events[0].message.startswith("The job has successfully completed")

    (result_id,) = job.result_files
    assert client.files.content(result_id).read().startswith(b"step,train_reward_mean")
    assert client.files.retrieve(result_id).purpose == "fine-tune-results"

    model_ids = [m.id for m in client.models.list()]
    assert {model_id, f"{model_id}:ckpt-step-1", f"{model_id}:ckpt-step-2"} <= set(model_ids)
    assert client.models.retrieve(model_id).owned_by == "default"
    assert client.models.delete(model_id).deleted is True
    assert model_id not in [m.id for m in client.models.list()]


def test_worker_crash_fails_the_job_with_its_log(rft_server: ServerHandle) -> None:
    client = _client(rft_server)
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=upload_jsonl(client),
        method=rft_method(),
        metadata={"fake_worker": "crash"},
    )
    failed = wait_for_status(client, job.id, TERMINAL)
    assert failed.status == "failed"
    assert failed.error.code == "worker_died"
    assert "exited with code 3" in failed.error.message
    assert "simulated out-of-memory" in failed.error.message


def test_pause_resume_and_cancel_a_running_job(rft_server: ServerHandle) -> None:
    client = _client(rft_server)
    job = client.fine_tuning.jobs.retrieve(start_waiting_job(client))
    client.fine_tuning.jobs.pause(job.id)
    paused = wait_for_status(client, job.id, {"paused"} | TERMINAL)
    assert paused.status == "paused"
    (checkpoint,) = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoint.step_number == 1

    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    wait_for_status(client, job.id, {"running"})
    client.fine_tuning.jobs.cancel(job.id)
    cancelled = wait_for_status(client, job.id, TERMINAL)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert "Resumed from step-1" in messages
    assert messages.index("Waiting at step 2") < messages.index(
        "Resumed from step-1"
    )  # newest first


def test_queued_job_pauses_and_cancels_immediately(rft_server: ServerHandle) -> None:
    client = _client(rft_server)
    training = upload_jsonl(client)
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=training,
        method=rft_method(),
        metadata={"fake_worker": "wait"},
    )
    # Racing the scheduler: either it is still queued (→ paused now) or already running.
    paused = client.fine_tuning.jobs.pause(job.id)
    final = wait_for_status(client, job.id, {"paused"})
    assert final.status == "paused" and paused.status in {"paused", "running"}
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"


def test_job_list_pages_newest_first_and_filters_by_metadata(rft_server: ServerHandle) -> None:
    client = _client(rft_server)
    training = upload_jsonl(client)
    created = [
        client.fine_tuning.jobs.create(
            model="tiny-random-llama",
            training_file=training,
            method=rft_method(),
            metadata={"batch": "listing", "parity": str(i % 2)},
        ).id
        for i in range(5)
    ]
    listed = [j.id for j in client.fine_tuning.jobs.list(limit=2, metadata={"batch": "listing"})]
    assert listed == created[::-1]
    odd = client.fine_tuning.jobs.list(limit=1, metadata={"batch": "listing", "parity": "1"})
    assert [j.id for j in odd] == [created[3], created[1]]
    everything = [j.id for j in client.fine_tuning.jobs.list(limit=3)]
    assert [i for i in everything if i in created] == created[::-1]
    assert len(everything) == len(set(everything))
    for job_id in created:
        wait_for_status(client, job_id, TERMINAL)
