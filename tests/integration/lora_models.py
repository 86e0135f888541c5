"""A live server holding a fine-tuned tiny-random-llama job with two real LoRA checkpoints.

The job is created through the SDK; its worker only sleeps, and the test process plays the
trainer through the real ``JobRuntime``: it saves two peft adapters with distinct random
weights as checkpoints 1 and 2, then finishes the job (``ft:`` model = checkpoint 2).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from openrft.inference.registry import load_base_model
from openrft.services.job_runtime import JobRuntime
from openrft.settings import Settings
from tests.integration.conftest import (
    ServerHandle,
    rft_method,
    start_server,
    upload_jsonl,
    wait_for_status,
)

MODEL = "tiny-random-llama"
SLEEPING_WORKER = [sys.executable, "-c", "import time; time.sleep(600)"]


@dataclass
class FineTuned:
    server: ServerHandle
    job_id: str
    ft_model: str
    checkpoint_model: str  # step 1
    adapter_dirs: dict[int, Path]  # step → the adapter as saved by the "trainer"


def save_random_adapter(out_dir: Path, seed: int, cache_dir: Path) -> Path:
    """A LoRA adapter on tiny-random-llama whose B matrices are large random values."""
    model, _ = load_base_model(MODEL, cache_dir=cache_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator))
    peft_model.save_pretrained(out_dir)
    return out_dir


@contextmanager
def serve_finetuned(data_dir: Path) -> Iterator[FineTuned]:
    env = {"OPENRFT_WORKER_COMMAND": json.dumps(SLEEPING_WORKER)}
    with start_server(data_dir, env=env) as server:
        client = server.client()
        job = client.fine_tuning.jobs.create(
            model=MODEL, training_file=upload_jsonl(client), suffix="lora", method=rft_method()
        )
        wait_for_status(client, job.id, {"running"})
        runtime = JobRuntime(Settings(data_dir=data_dir))
        dirs = {
            step: save_random_adapter(data_dir / f"adapter-{step}", step, data_dir / "models")
            for step in (1, 2)
        }
        for step, adapter_dir in dirs.items():
            runtime.add_checkpoint(job.id, step, {"train_reward_mean": step / 2}, adapter_dir)
        runtime.finish(job.id, "succeeded", fine_tuned_step=2)
        runtime.engine.dispose()
        ft_model = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
        assert ft_model is not None
        yield FineTuned(server, job.id, ft_model, f"{ft_model}:ckpt-step-1", dirs)
