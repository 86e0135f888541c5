"""Supervised and DPO jobs on tiny-random-llama through the API: official SDK → server →
worker → checkpoints → a fine-tuned model that chats."""

from __future__ import annotations

import json
from typing import Any

import openai

from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]

TERMINAL = {"succeeded", "failed", "cancelled"}
REPLY = "blue sky"
QUESTIONS = ["What colour is it?", "Name the colour.", "Which colour?", "Colour please."]


def _upload(client: openai.OpenAI, rows: list[dict[str, Any]], name: str) -> str:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=(name, data), purpose="fine-tune").id


def _chat(client: openai.OpenAI, model: str, question: str) -> str:
    # The first request loads the model into the server's pool: allow for a busy machine.
    reply = client.with_options(timeout=180).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": question}],
        max_tokens=8,
        temperature=0,
    )
    assert reply.model == model
    return reply.choices[0].message.content or ""


def test_supervised_job_from_model_and_training_file_only_learns_the_reply(
    server: ServerHandle,
) -> None:
    """``create`` with only ``model`` + ``training_file`` (the OpenAI SDK's own test request)
    is a supervised job; its model then answers with the reply it was trained on."""
    client = server.client()
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": REPLY}]}
        for q in QUESTIONS
    ]
    training_file = _upload(client, rows, "sft.jsonl")
    job = client.fine_tuning.jobs.create(model="tiny-random-llama", training_file=training_file)
    assert job.method is not None and job.method.type == "supervised"
    assert job.method.supervised is not None and job.method.supervised.hyperparameters is not None
    echoed = job.method.supervised.hyperparameters
    assert (echoed.batch_size, echoed.n_epochs, echoed.learning_rate_multiplier) == (4, 1, 1.0)
    assert job.hyperparameters.batch_size == 4
    assert "grader" not in job.method.model_dump()["supervised"]

    tuned = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=training_file,
        validation_file=_upload(client, rows[:2], "sft-valid.jsonl"),
        seed=3,
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {
                    "n_epochs": 12,
                    "batch_size": 4,
                    "learning_rate": 3e-2,
                    "lora_rank": 8,
                    "eval_interval": 4,
                }
            },
        },
    )
    plain = wait_for_status(client, job.id, TERMINAL, timeout_s=300)
    assert plain.status == "succeeded", (plain.error, server.log_tail())
    done = wait_for_status(client, tuned.id, TERMINAL, timeout_s=300)
    assert done.status == "succeeded", (done.error, server.log_tail())
    assert done.fine_tuned_model and done.fine_tuned_model.startswith("ft:tiny-random-llama:")

    events = client.fine_tuning.jobs.list_events(tuned.id, limit=100).data
    metrics = [e.data for e in reversed(events) if e.type == "metrics"]
    assert [m["step"] for m in metrics] == list(range(1, 13))  # type: ignore[index]
    valid = [m["valid_loss"] for m in metrics if "valid_loss" in m]  # type: ignore[operator]
    assert len(valid) == 3 and valid[-1] < valid[0]
    checkpoints = client.fine_tuning.jobs.checkpoints.list(tuned.id).data
    assert {c.step_number for c in checkpoints} == {4, 8, 12}
    assert checkpoints[0].metrics.valid_loss is not None

    assert _chat(client, done.fine_tuned_model, QUESTIONS[0]).startswith(REPLY)
    assert not _chat(client, "tiny-random-llama", QUESTIONS[0]).startswith(REPLY)


def test_dpo_job_prefers_the_preferred_answer_and_its_model_chats(server: ServerHandle) -> None:
    client = server.client()
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": q}]},
            "preferred_output": [{"role": "assistant", "content": REPLY}],
            "non_preferred_output": [{"role": "assistant", "content": "red rose"}],
        }
        for q in QUESTIONS
    ]
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=_upload(client, rows, "dpo.jsonl"),
        validation_file=_upload(client, rows[:2], "dpo-valid.jsonl"),
        seed=4,
        method={
            "type": "dpo",
            "dpo": {
                "hyperparameters": {
                    "beta": 0.5,
                    "n_epochs": 6,
                    "learning_rate": 1e-2,
                    "lora_rank": 8,
                    "eval_interval": 3,
                }
            },
        },
    )
    assert job.method is not None and job.method.type == "dpo" and job.method.dpo is not None
    assert job.method.dpo.hyperparameters is not None
    assert job.method.dpo.hyperparameters.beta == 0.5
    done = wait_for_status(client, job.id, TERMINAL, timeout_s=300)
    assert done.status == "succeeded", (done.error, server.log_tail())

    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    baseline = next(e.data for e in events if e.data and e.data.get("phase") == "baseline")
    # Newest first: the last evaluation's metrics.
    final = next(e.data for e in events if e.type == "metrics" and "valid_loss" in (e.data or {}))
    assert baseline["valid_loss"] > final["valid_loss"]  # type: ignore[index]
    assert final["valid_rewards/accuracies"] == 1.0  # type: ignore[index]
    assert final["valid_rewards/margins"] > 0  # type: ignore[index]
    assert done.fine_tuned_model is not None
    assert _chat(client, done.fine_tuned_model, QUESTIONS[1])
