"""The seed's model families on vLLM: tiny random Qwen3 and gpt-oss (built offline) each train a
job, answer a chat completion through vLLM and export; the export answers in transformers as
the server did. Both jobs run at once.

Qwen3 trains a LoRA adapter with vLLM rollouts (the adapter synced to its job's vLLM server
after each step) and is served as an adapter on the vLLM server of its base. gpt-oss runs on
vLLM's CPU build only without LoRA (with LoRA enabled vLLM picks a Triton MoE backend the CPU
wheel lacks), and vLLM 0.32's in-place weight reload skips gpt-oss's experts and attention
sinks (docs/DEPLOYMENT.md): so its job is a full fine-tune with openrft's rollouts, and vLLM
serves the fine-tuned weights from a server of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from openai.types.fine_tuning import FineTuningJob

from tests.e2e.test_model_families import (
    HYPERPARAMETERS,
    chat_and_export,
    create_job,
    wait_succeeded,
)
from tests.integration.conftest import ServerHandle

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(2400)]

QWEN3, GPT_OSS = "tiny-random-qwen3", "tiny-random-gpt-oss"
FAMILIES = {
    QWEN3: {**HYPERPARAMETERS, "eval_interval": 2, "rollout_engine": "vllm"},
    GPT_OSS: {**HYPERPARAMETERS, "eval_interval": 2, "rollout_engine": "openrft", "lora_rank": 0},
}


@pytest.fixture(scope="module")
def jobs(vllm_server: ServerHandle) -> dict[str, FineTuningJob]:
    """Each family's job, started together and run to the end: model → finished job."""
    client = vllm_server.client()
    created = {
        model: create_job(client, model, hyperparameters)
        for model, hyperparameters in FAMILIES.items()
    }
    # A chat with the Qwen3 base starts the vLLM server its fine-tuned model is served on
    # while the jobs train.
    base = client.with_options(timeout=1800).chat.completions.create(
        model=QWEN3, messages=[{"role": "user", "content": "hi"}], max_completion_tokens=4
    )
    assert base.choices[0].message.content is not None
    return {model: wait_succeeded(vllm_server, job_id) for model, job_id in created.items()}


def test_qwen3_trains_on_vllm_chats_through_vllm_and_exports(
    vllm_server: ServerHandle, jobs: dict[str, FineTuningJob], tmp_path: Path
) -> None:
    job = jobs[QWEN3]
    events = list(vllm_server.client().fine_tuning.jobs.list_events(job.id, limit=100))
    assert any(e.message.startswith("Rollouts and evaluations run on vLLM") for e in events)
    metrics = [e.data for e in events if e.type == "metrics"]
    assert sorted(m["step"] for m in metrics) == [1, 2]
    # Step 2 sampled on vLLM after the step-1 sync: from the weights the trainer has.
    assert all(m["sampling/logp_gap_mean"] < 0.01 for m in metrics)
    chat_and_export(vllm_server, job, tmp_path)
    # The chat ran on the vLLM server of the Qwen3 base, the adapter loaded into it.
    assert (vllm_server.data_dir / "logs" / f"vllm-base-{QWEN3}.log").is_file()


def test_gpt_oss_full_fine_tune_chats_through_vllm_and_exports(
    vllm_server: ServerHandle, jobs: dict[str, FineTuningJob], tmp_path: Path
) -> None:
    chat_and_export(vllm_server, jobs[GPT_OSS], tmp_path)
    # The chat ran on a vLLM server of the fine-tuned weights.
    logs = [p.name for p in (vllm_server.data_dir / "logs").iterdir()]
    assert any(name.startswith("vllm-full-") for name in logs), logs
