"""``openrft export`` round trip: transformers loads the dir and answers like the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrft.inference.tokens import default_stop_token_ids, encode_chat
from tests.integration.lora_models import FineTuned

OPENRFT = Path(sys.executable).parent / "openrft"
MESSAGES = [{"role": "user", "content": "export me"}]


def transformers_greedy(out_dir: Path, max_new_tokens: int = 16) -> str:
    model = AutoModelForCausalLM.from_pretrained(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    prompt = torch.tensor([encode_chat(tokenizer, MESSAGES)])
    output = model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        do_sample=False,
        max_new_tokens=max_new_tokens,
        eos_token_id=default_stop_token_ids(tokenizer, model),
        pad_token_id=tokenizer.pad_token_id,
    )
    return str(tokenizer.decode(output[0, prompt.shape[1] :], skip_special_tokens=True))


@pytest.mark.parametrize("merged", [False, True])
def test_export_loads_in_transformers_with_the_servers_greedy_answer(
    finetuned: FineTuned, tmp_path: Path, merged: bool
) -> None:
    out_dir = tmp_path / "export"
    args = [str(OPENRFT), "export", finetuned.ft_model, str(out_dir)]
    args += ["--data-dir", str(finetuned.server.data_dir)] + (["--merged"] if merged else [])
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    weights = "model.safetensors" if merged else "adapter_model.safetensors"
    assert (out_dir / weights).is_file() and (out_dir / "tokenizer.json").is_file()
    response = finetuned.server.client().chat.completions.create(
        model=finetuned.ft_model, messages=MESSAGES, temperature=0, max_completion_tokens=16
    )
    assert transformers_greedy(out_dir) == response.choices[0].message.content


def test_export_of_an_unknown_model_fails_cleanly(finetuned: FineTuned, tmp_path: Path) -> None:
    args = [str(OPENRFT), "export", "ft:tiny-random-llama:default::ftjob-nope", str(tmp_path)]
    args += ["--data-dir", str(finetuned.server.data_dir)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "does not exist" in result.stderr
