from __future__ import annotations

from pathlib import Path

import pytest
import torch

from openrft.errors import InvalidRequestError
from openrft.inference.registry import (
    base_model_names,
    canonical_base_name,
    load_base_model,
    smollm2_gguf_path,
)
from openrft.inference.tokens import default_stop_token_ids, encode_chat


def test_builtin_names_and_alias_resolve() -> None:
    assert base_model_names() == [
        "tiny-random-llama",
        "SmolLM2-135M-Instruct",
        "tiny-random-qwen3",
        "tiny-random-gpt-oss",
    ]
    assert canonical_base_name("HuggingFaceTB/SmolLM2-135M-Instruct") == "SmolLM2-135M-Instruct"
    assert canonical_base_name("tiny-random-llama") == "tiny-random-llama"


def test_local_dir_gguf_and_hub_id_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert canonical_base_name(str(tmp_path)) == str(tmp_path.resolve())
    assert canonical_base_name(str(smollm2_gguf_path())) == str(smollm2_gguf_path().resolve())
    assert canonical_base_name("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.mark.parametrize("name", ["gpt-4o", "ft:nothing", "/no/such/dir", "a/b/c", ""])
def test_unknown_names_raise_with_param_model(name: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        canonical_base_name(name)
    assert info.value.param == "model"


def test_tiny_llama_is_identical_across_fresh_caches(tmp_path: Path) -> None:
    first, _ = load_base_model("tiny-random-llama", cache_dir=tmp_path / "a")
    second, _ = load_base_model("tiny-random-llama", cache_dir=tmp_path / "b")
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert (tmp_path / "a" / "tiny-random-llama" / "model.safetensors").is_file()


def test_tiny_tokenizer_round_trips_text_and_renders_chat(tiny: tuple) -> None:
    model, tokenizer = tiny
    text = "héllo wörld 42 ✓"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    ids = encode_chat(tokenizer, [{"role": "user", "content": "hi"}])
    assert tokenizer.decode(ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in default_stop_token_ids(tokenizer, model)
    assert model.config.vocab_size == len(tokenizer)


def test_smollm2_chat_template_and_stop_tokens(smollm2: tuple) -> None:
    model, tokenizer = smollm2
    ids = encode_chat(tokenizer, [{"role": "user", "content": "hi"}])
    assert tokenizer.decode(ids).endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in default_stop_token_ids(tokenizer, model)
    assert model.dtype == torch.float32
