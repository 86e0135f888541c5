"""Both engine backends against a plain transformers forward: logits, greedy tokens, log-probs.

The fast backend (lean Llama forward + prompt KV shared by samples) must compute what the
model computes; the transformers backend runs every other architecture.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

from openrft.inference import shared_kv
from openrft.inference.backends import FastBackend, TransformersBackend, backend_for
from openrft.inference.engine import GenerationEngine, GenerationRequest, SamplingParams
from tests.unit.inference.test_engine import chat_prompts, forward_logprobs, hf_greedy


def tiny_qwen2(vocab_size: int) -> Qwen2ForCausalLM:
    """A seeded random Qwen2 (q/k/v biases, GQA) sized like tiny-random-llama."""
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        initializer_range=0.3,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = Qwen2ForCausalLM(config)
        for layer in model.model.layers:  # random biases, so a dropped bias would show
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                torch.nn.init.normal_(proj.bias, std=0.3)
    return model.eval()


def tiny_gpt2(vocab_size: int) -> GPT2LMHeadModel:
    config = GPT2Config(vocab_size=vocab_size, n_embd=64, n_layer=2, n_head=4, n_positions=512)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def qwen2(tiny: tuple) -> tuple[Any, Any]:
    _, tokenizer = tiny
    return tiny_qwen2(len(tokenizer)), tokenizer


def test_llama_and_qwen2_take_the_fast_path_others_transformers(tiny: tuple, qwen2: tuple) -> None:
    assert isinstance(backend_for(tiny[0], pad_id=0), FastBackend)
    assert isinstance(backend_for(qwen2[0], pad_id=0), FastBackend)
    assert isinstance(backend_for(tiny_gpt2(len(tiny[1])), pad_id=0), TransformersBackend)


@pytest.mark.parametrize("which", ["tiny", "qwen2"])
def test_fast_prefill_and_decode_logits_equal_a_full_forward(
    which: str, tiny: tuple, qwen2: tuple
) -> None:
    model, tokenizer = tiny if which == "tiny" else qwen2
    prompts = chat_prompts(tokenizer)  # three different lengths, packed together
    backend = FastBackend(model)
    steps = [[5, 9, 40], [7, 7, 7], [100, 3, 64]]  # fed tokens, one list per step (per prompt)
    with torch.inference_mode():
        state, logits = backend.prefill(prompts, [1, 1, 1], None, max_new=8)
        got = [logits]
        for tokens in steps:
            got.append(backend.step(state, torch.tensor(tokens), None))
        for i, prompt in enumerate(prompts):
            ids = torch.tensor([prompt + [step[i] for step in steps]])
            full = model(ids).logits[0, len(prompt) - 1 :]
            for step, logits in enumerate(got):
                assert torch.allclose(logits[i], full[step], atol=1e-4), (which, i, step)


def test_transformers_backend_greedy_equals_generate(tiny: tuple) -> None:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    engine.backend = TransformersBackend(model, engine.pad_id)
    prompts = chat_prompts(tokenizer)
    out = engine.generate(prompts, SamplingParams(max_new_tokens=16, temperature=0.0))
    assert [group[0].token_ids for group in out] == hf_greedy(model, engine, prompts, 16)


def test_qwen2_greedy_equals_generate(qwen2: tuple) -> None:
    model, tokenizer = qwen2
    engine = GenerationEngine(model, tokenizer)
    assert isinstance(engine.backend, FastBackend)
    prompts = chat_prompts(tokenizer)
    out = engine.generate(prompts, SamplingParams(max_new_tokens=16, temperature=0.0))
    assert [group[0].token_ids for group in out] == hf_greedy(model, engine, prompts, 16)


@pytest.mark.parametrize("fast", [True, False])
def test_samples_ending_early_leave_the_others_exact(
    tiny: tuple, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows leave mid-group (ragged groups in the shared prompt KV); survivors stay exact."""
    model, tokenizer = tiny
    layouts: list[bool] = []
    to_grid = shared_kv._to_grid

    def recording_to_grid(kv: shared_kv.SharedKV, x: torch.Tensor) -> torch.Tensor:
        layouts.append(kv.dense)
        return to_grid(kv, x)

    monkeypatch.setattr(shared_kv, "_to_grid", recording_to_grid)
    engine = GenerationEngine(model, tokenizer)
    if not fast:
        engine.backend = TransformersBackend(model, engine.pad_id)
    prompts = chat_prompts(tokenizer)
    params = SamplingParams(max_new_tokens=12, temperature=0.8, seed=5)
    # request → sample → length at which it stops (others run to 12): groups become ragged
    ends = [{0: 2, 1: 5, 3: 3}, {2: 4}, {}]
    counts: dict[tuple[int, int], int] = {}

    def stop_after(request: int) -> Any:
        def check(sample: int, _token: int) -> bool:
            counts[request, sample] = counts.get((request, sample), 0) + 1
            return counts[request, sample] == ends[request].get(sample, -1)

        return check

    requests = [
        GenerationRequest(p, params, n=4, stop_check=stop_after(i), generator=torch.Generator())
        for i, p in enumerate(prompts)
    ]
    for request in requests:
        assert request.generator is not None
        request.generator.manual_seed(11)
    engine.run(requests)
    for prompt, request, planned in zip(prompts, requests, ends, strict=True):
        lengths = [len(c.token_ids) for c in request.completions]
        assert lengths == [planned.get(sample, 12) for sample in range(4)]
        for completion in request.completions:
            reference = forward_logprobs(model, prompt, completion.token_ids, 0.8)
            assert completion.logprobs == pytest.approx(reference, abs=1e-4)
    if fast:
        assert True in layouts and False in layouts  # full groups first, then ragged ones


@pytest.mark.parametrize(
    "config",
    [
        {"target_modules": ["q_proj", "embed_tokens"]},  # LoRA on an embedding
        {"target_modules": ["q_proj"], "use_dora": True},
    ],
)
def test_lora_variants_the_fast_path_lacks_run_on_transformers(tiny: tuple, config: dict) -> None:
    model = tiny[0]
    peft_model = get_peft_model(copy.deepcopy(model), LoraConfig(r=4, **config))
    assert isinstance(backend_for(peft_model, pad_id=0), TransformersBackend)
    plain = get_peft_model(copy.deepcopy(model), LoraConfig(r=4, target_modules=["q_proj"]))
    assert isinstance(backend_for(plain, pad_id=0), FastBackend)
