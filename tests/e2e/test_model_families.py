"""The seed's model families on openrft's engine: tiny random Qwen3 and gpt-oss (built offline)
each train a real job, answer a chat completion with the fine-tuned model and export it; the
export (a peft adapter, or a full fine-tune's weights) answers in transformers as the server
does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
import torch
from openai.types.fine_tuning import FineTuningJob
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrft.inference.tokens import default_stop_token_ids, encode_chat
from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]  # the session fixture, imported so pytest finds it here

OPENRFT = Path(sys.executable).parent / "openrft"
MESSAGES = [{"role": "user", "content": "Say hello 1"}]
FUZZY = {
    "type": "text_similarity",
    "name": "fuzzy",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "evaluation_metric": "fuzzy_match",
}
HYPERPARAMETERS = {
    "batch_size": 2,
    "group_size": 2,
    "eval_interval": 1,
    "eval_samples": 1,
    "max_completion_tokens": 8,
    "max_steps": 2,
    "lora_rank": 4,
    "lora_alpha": 8,
    "learning_rate": 1e-2,
}


@pytest.mark.parametrize("model", ["tiny-random-qwen3", "tiny-random-gpt-oss"])
def test_family_trains_chats_and_exports(server: ServerHandle, model: str, tmp_path: Path) -> None:
    job_id = create_job(server.client(), model, HYPERPARAMETERS)
    chat_and_export(server, wait_succeeded(server, job_id), tmp_path)


def create_job(client: openai.OpenAI, model: str, hyperparameters: dict[str, Any]) -> str:
    """A fuzzy-match job that trains ``model`` to say hello; returns its id."""
    rows = [
        {"messages": [{"role": "user", "content": f"Say hello {i}"}], "answer": "hello"}
        for i in range(4)
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    training = client.files.create(file=("train.jsonl", data), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(
        model=model,
        training_file=training,
        validation_file=training,
        seed=3,
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": FUZZY, "hyperparameters": hyperparameters},
        },
    )
    return job.id


def wait_succeeded(server: ServerHandle, job_id: str) -> FineTuningJob:
    done = wait_for_status(server.client(), job_id, {"succeeded", "failed", "cancelled"}, 1800)
    assert done.status == "succeeded", (done.error, server.log_tail())
    return done


def chat_and_export(server: ServerHandle, job: FineTuningJob, tmp_path: Path) -> None:
    """Chat with the fine-tuned model greedily, export it and check the export answers the
    same in transformers."""
    # The first request loads the model into the server's pool: allow for a busy machine.
    reply = (
        server.client()
        .with_options(timeout=1800)
        .chat.completions.create(
            model=job.fine_tuned_model, messages=MESSAGES, temperature=0, max_completion_tokens=12
        )
    )
    answer = reply.choices[0].message.content
    assert answer
    out_dir = tmp_path / "export"
    args = [str(OPENRFT), "export", job.fine_tuned_model, str(out_dir)]
    subprocess.run([*args, "--data-dir", str(server.data_dir)], check=True, timeout=300)
    assert answer == _transformers_greedy(out_dir, 12)


def _transformers_greedy(adapter_dir: Path, max_new_tokens: int) -> str:
    """The export in plain transformers: an adapter on its base (through peft), or full weights."""
    if (adapter_dir / "adapter_config.json").is_file():
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
        model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    else:  # a full fine-tune's weights
        base = model = AutoModelForCausalLM.from_pretrained(adapter_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    prompt = torch.tensor([encode_chat(tokenizer, MESSAGES)])
    with torch.no_grad():
        output = model.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            eos_token_id=default_stop_token_ids(tokenizer, base),
            pad_token_id=tokenizer.pad_token_id,
        )
    return str(tokenizer.decode(output[0, prompt.shape[1] :], skip_special_tokens=True))
