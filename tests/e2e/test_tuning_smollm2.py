"""A supervised job on SmolLM2-135M-Instruct (the offline GGUF) through the API lowers the
validation loss on held-out GSM8K worked solutions.

Slow (minutes on 2 busy CPU cores): ``pytest -m slow tests/e2e/test_tuning_smollm2.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import openai
import pytest

from tests.conftest import REPO_ROOT
from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]

GSM8K_DIR = Path(os.environ.get("OPENRFT_GSM8K_DIR", REPO_ROOT.parent / "shared/datasets/gsm8k"))


def _upload(client: openai.OpenAI, split: str, n: int) -> str:
    """The first ``n`` GSM8K examples of ``split`` as supervised rows (question → solution)."""
    path = GSM8K_DIR / f"{split}.jsonl"
    if not path.is_file():
        pytest.skip(f"GSM8K not found at {path} (set OPENRFT_GSM8K_DIR)")
    with path.open() as handle:
        examples = [json.loads(next(handle)) for _ in range(n)]
    rows = [
        {
            "messages": [
                {"role": "user", "content": e["question"]},
                {"role": "assistant", "content": e["answer"]},
            ]
        }
        for e in examples
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=(f"sft-{split}.jsonl", data), purpose="fine-tune").id


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_smollm2_supervised_job_lowers_validation_loss(server: ServerHandle) -> None:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model="SmolLM2-135M-Instruct",
        training_file=_upload(client, "train", 12),
        validation_file=_upload(client, "test", 4),
        seed=0,
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {
                    "batch_size": 4,
                    "n_epochs": 1,
                    "learning_rate": 1e-3,
                    "eval_interval": 3,
                }
            },
        },
    )
    done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=1700)
    assert done.status == "succeeded", (done.error, server.log_tail())
    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    baseline = next(e.data for e in events if e.data and e.data.get("phase") == "baseline")
    metrics = [e.data for e in reversed(events) if e.type == "metrics"]
    assert [m["step"] for m in metrics] == [1, 2, 3]  # type: ignore[index]
    before, after = baseline["valid_loss"], metrics[-1]["valid_loss"]  # type: ignore[index]
    print(f"SmolLM2 supervised: validation loss {before:.4f} -> {after:.4f}")
    assert after < before - 0.05, (before, after)
    checkpoint = client.fine_tuning.jobs.checkpoints.list(job.id).data[0]
    assert checkpoint.step_number == 3 and checkpoint.metrics.valid_loss == pytest.approx(after)
