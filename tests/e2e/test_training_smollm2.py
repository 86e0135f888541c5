"""SmolLM2-135M-Instruct on GSM8K through the API: checkpoints, before/after eval, serving.

Slow (minutes on 2 CPU cores): ``pytest -m slow tests/e2e/test_training_smollm2.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from openrft.demo.dataset import to_row
from tests.conftest import REPO_ROOT
from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]

GSM8K_DIR = Path(os.environ.get("OPENRFT_GSM8K_DIR", REPO_ROOT.parent / "shared/datasets/gsm8k"))
REWARD_FILE = REPO_ROOT / "openrft" / "demo" / "gsm8k_reward.py"


def _upload(client, split: str, n: int) -> str:
    path = GSM8K_DIR / f"{split}.jsonl"
    if not path.is_file():
        pytest.skip(f"GSM8K not found at {path} (set OPENRFT_GSM8K_DIR)")
    with path.open() as handle:
        rows = [to_row(json.loads(next(handle))) for _ in range(n)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=(f"gsm8k-{split}.jsonl", data), purpose="fine-tune").id


@pytest.mark.slow
def test_smollm2_gsm8k_job_with_checkpoints_and_before_after_eval(
    server: ServerHandle, tmp_path: Path
) -> None:
    client = server.client()
    reward = tmp_path / "gsm8k_reward.py"  # handler files come from the grader base dir
    shutil.copyfile(REWARD_FILE, reward)
    job = client.fine_tuning.jobs.create(
        model="SmolLM2-135M-Instruct",
        training_file=_upload(client, "train", 6),
        validation_file=_upload(client, "test", 3),
        seed=0,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": {
                    "type": "lambda",
                    "lambda": {"function": f"{reward}:lambda_handler"},
                },
                "hyperparameters": {
                    "batch_size": 2,
                    "group_size": 4,
                    "max_completion_tokens": 64,
                    "max_steps": 3,
                    "eval_interval": 2,
                    "eval_samples": 1,
                    "learning_rate": 1e-4,
                },
            },
        },
    )
    done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=1200)
    assert done.status == "succeeded", (done.error, server.log_tail())

    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    messages = [e.message for e in events]
    assert any(m.startswith("Baseline evaluation before step 1") for m in messages)
    assert any(m.startswith("Final evaluation after step 3") for m in messages)
    metrics = [e.data for e in events if e.type == "metrics"]
    assert sorted(m["step"] for m in metrics) == [1, 2, 3]
    assert all(m["response_length_mean"] > 0 for m in metrics)

    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert sorted(c.step_number for c in checkpoints) == [2, 3]
    assert all("valid_reward_mean" in c.metrics.model_dump() for c in checkpoints)

    for model_id in (done.fine_tuned_model, checkpoints[0].fine_tuned_model_checkpoint):
        # The first request loads the model into the server's pool: allow for a busy machine.
        reply = client.with_options(timeout=180).chat.completions.create(
            model=model_id, messages=[{"role": "user", "content": "What is 2+3?"}], max_tokens=8
        )
        assert reply.choices[0].message.content
