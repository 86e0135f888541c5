"""The seed's model families on openrft's engine: tiny random Qwen3 and gpt-oss (built offline)
each train a real job, answer a chat completion with the fine-tuned model and export it; the
export (peft adapter) answers in transformers as the server does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    train_chat_and_export(server, model, HYPERPARAMETERS, tmp_path)


def train_chat_and_export(
    server: ServerHandle, model: str, hyperparameters: dict[str, Any], tmp_path: Path
) -> FineTuningJob:
    """Train ``model`` on a fuzzy-match job, chat with the fine-tuned model greedily, export
    it and check the export answers the same in transformers; returns the finished job."""
    client = server.client()
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
    done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=1800)
    assert done.status == "succeeded", (done.error, server.log_tail())
    # The first request loads the model into the server's pool: allow for a busy machine.
    reply = client.with_options(timeout=900).chat.completions.create(
        model=done.fine_tuned_model, messages=MESSAGES, temperature=0, max_completion_tokens=12
    )
    answer = reply.choices[0].message.content
    assert answer
    out_dir = tmp_path / "export"
    args = [str(OPENRFT), "export", done.fine_tuned_model, str(out_dir)]
    subprocess.run([*args, "--data-dir", str(server.data_dir)], check=True, timeout=300)
    assert answer == _transformers_greedy(out_dir, 12)
    return done


def _transformers_greedy(adapter_dir: Path, max_new_tokens: int) -> str:
    """The exported adapter on its base, in plain transformers + peft."""
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
    model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
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
