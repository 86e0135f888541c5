from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

from openrft.inference.adapters import AdapterSet, adapter_bytes
from openrft.inference.engine import GenerationEngine, GenerationRequest, SamplingParams
from openrft.inference.registry import load_base_model
from openrft.inference.tokens import encode_chat
from tests.unit.inference.conftest import MODEL_CACHE


def save_adapter(out_dir: Path, seed: int) -> Path:
    model, _ = load_base_model("tiny-random-llama", cache_dir=MODEL_CACHE)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator))
    peft_model.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def adapter_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("adapters")
    return [save_adapter(root / f"a{i}", seed=i) for i in range(3)]


def test_lru_eviction_keeps_the_budget_and_recently_used(adapter_dirs: list[Path]) -> None:
    model, _ = load_base_model("tiny-random-llama", cache_dir=MODEL_CACHE)
    size = adapter_bytes(adapter_dirs[0])
    adapters = AdapterSet(model, budget_bytes=2 * size)
    a, b = adapters.attach(adapter_dirs[0]), adapters.attach(adapter_dirs[1])
    adapters.attach(adapter_dirs[0])  # a is now the most recently used
    c = adapters.attach(adapter_dirs[2])
    adapters.evict_over_budget(keep={c})
    assert adapters.loaded == [a, c] and b not in adapters.loaded
    assert adapters.attach(adapter_dirs[1]) == b  # reloads lazily


def test_rows_of_one_batch_use_their_own_adapter(adapter_dirs: list[Path]) -> None:
    model, tokenizer = load_base_model("tiny-random-llama", cache_dir=MODEL_CACHE)
    adapters = AdapterSet(model, budget_bytes=10**9)
    names = [adapters.attach(d) for d in adapter_dirs[:2]]
    engine = GenerationEngine(adapters.model, tokenizer)
    prompt = encode_chat(tokenizer, [{"role": "user", "content": "hi"}])
    params = SamplingParams(max_new_tokens=8, temperature=0)

    def decode(adapter_names: list[str]) -> list[list[int]]:
        requests = [GenerationRequest(prompt, params, adapter_name=n) for n in adapter_names]
        engine.run(requests)
        return [r.completions[0].token_ids for r in requests]

    alone = [decode([name])[0] for name in [*names, "__base__"]]
    assert len({tuple(t) for t in alone}) == 3
    assert decode([names[1], "__base__", names[0]]) == [alone[1], alone[2], alone[0]]
