"""The seed's model families on vLLM: tiny random Qwen3 (built offline) trains a job with vLLM
rollouts, answers a chat completion through vLLM and exports; the export answers in
transformers as the server did.

gpt-oss is not here: on vLLM's CPU build the tiny config's head_dim 16 is refused by the CPU
attention, and with LoRA enabled vLLM picks a Triton MoE backend the CPU wheel lacks
(docs/DEPLOYMENT.md quotes both). On openrft's engine both families run in
``tests/e2e/test_model_families.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_model_families import HYPERPARAMETERS, train_chat_and_export
from tests.integration.conftest import ServerHandle

# Slow until measured on a quiet machine (it starts two vLLM servers of its own).
pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(2400)]


def test_qwen3_trains_on_vllm_chats_through_vllm_and_exports(
    vllm_server: ServerHandle, tmp_path: Path
) -> None:
    hyperparameters = {**HYPERPARAMETERS, "eval_interval": 2, "rollout_engine": "vllm"}
    job = train_chat_and_export(vllm_server, "tiny-random-qwen3", hyperparameters, tmp_path)
    events = vllm_server.client().fine_tuning.jobs.list_events(job.id, limit=100)
    assert any(e.message.startswith("Rollouts and evaluations run on vLLM") for e in events)
    # The chat ran on the vLLM server of the Qwen3 base, the adapter loaded into it.
    assert (vllm_server.data_dir / "logs" / "vllm-base-tiny-random-qwen3.log").is_file()
