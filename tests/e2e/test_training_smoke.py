"""A real job on tiny-random-llama through the API: official SDK → server → worker → blobs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
from safetensors.torch import load_file

from openrft.inference.registry import load_base_model
from tests.conftest import PRODUCT_STEP_METRICS
from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]  # the session fixture, imported so pytest finds it here

FUZZY = {
    "type": "text_similarity",
    "name": "fuzzy",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "evaluation_metric": "fuzzy_match",
}


def _upload(client, rows: list[dict], name: str) -> str:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=(name, data), purpose="fine-tune").id


def _rows(n: int) -> list[dict]:
    return [
        {"messages": [{"role": "user", "content": f"Say hello {i}"}], "answer": f"hello {i}"}
        for i in range(n)
    ]


def _initial_adapter(seed: int, cache: Path) -> dict[str, torch.Tensor]:
    """The LoRA weights the worker starts from (seeded init; B = 0)."""
    torch.manual_seed(seed)
    base, _ = load_base_model("tiny-random-llama", cache_dir=cache)
    config = LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    return get_peft_model_state_dict(get_peft_model(base, config))


def test_tiny_job_runs_end_to_end_and_changes_every_trainable_parameter(
    server: ServerHandle,
) -> None:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=_upload(client, _rows(4), "train.jsonl"),
        validation_file=_upload(client, _rows(2), "valid.jsonl"),
        seed=11,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": FUZZY,
                "hyperparameters": {
                    "batch_size": 2,
                    "group_size": 4,
                    "n_epochs": 1,
                    "eval_interval": 1,
                    "eval_samples": 2,
                    "max_completion_tokens": 8,
                    "lora_rank": 4,
                    "lora_alpha": 8,
                    "learning_rate": 1e-2,
                },
            },
        },
    )
    done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=120)
    assert done.status == "succeeded", (done.error, server.log_tail())
    assert done.fine_tuned_model and done.fine_tuned_model.startswith("ft:tiny-random-llama:")
    assert done.trained_tokens and done.trained_tokens > 0

    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    metrics = [e.data for e in events if e.type == "metrics"]
    assert sorted(m["step"] for m in metrics) == [1, 2]
    for m in metrics:
        assert set(m) >= PRODUCT_STEP_METRICS, PRODUCT_STEP_METRICS - set(m)
    messages = [e.message for e in events]
    assert any(m.startswith("Baseline evaluation before step 1") for m in messages)
    assert any(m.startswith("Final evaluation after step 2") for m in messages)

    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert sorted(c.step_number for c in checkpoints) == [1, 2]
    assert all(
        c.fine_tuned_model_checkpoint.endswith(f"ckpt-step-{c.step_number}") for c in checkpoints
    )

    for model_id in (done.fine_tuned_model, checkpoints[0].fine_tuned_model_checkpoint):
        # The first request loads the model into the server's pool: allow for a busy machine.
        reply = client.with_options(timeout=180).chat.completions.create(
            model=model_id, messages=[{"role": "user", "content": "Say hello"}], max_tokens=4
        )
        assert reply.model == model_id and reply.choices[0].message.content is not None

    results = {client.files.retrieve(f).filename: f for f in done.result_files}
    assert set(results) == {"step_metrics.csv", "samples.jsonl", "report.json"}
    table = list(
        csv.DictReader(io.StringIO(client.files.content(results["step_metrics.csv"]).text))
    )
    assert [row["step"] for row in table] == ["0", "1", "2"]

    trained = load_file(
        str(server.data_dir / "blobs" / "models" / job.id / "adapter_model.safetensors")
    )
    initial = _initial_adapter(11, server.data_dir / "models")
    assert set(trained) == set(initial) and trained
    unchanged = [k for k in initial if torch.equal(initial[k], trained[k])]
    assert unchanged == []
