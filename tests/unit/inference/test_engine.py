"""The engine against transformers on tiny-random-llama: greedy tokens, log-probs, sampling."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model

from openrft.inference.engine import GenerationEngine, GenerationRequest, SamplingParams
from openrft.inference.tokens import encode_chat

PROMPTS = ["hi", "What is 2+2? Think step by step.", "Write a long poem about the sea and sky."]


def chat_prompts(tokenizer: Any) -> list[list[int]]:
    return [encode_chat(tokenizer, [{"role": "user", "content": p}]) for p in PROMPTS]


def hf_greedy(model: Any, engine: GenerationEngine, prompts: list[list[int]], n: int) -> list:
    """transformers' own greedy decoding of each prompt alone, trimmed at the first stop."""
    outs = []
    for prompt in prompts:
        ids = torch.tensor([prompt])
        full = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=n,
            eos_token_id=sorted(engine.default_stop_ids),
            pad_token_id=engine.pad_id,
        )
        outs.append(full[0, len(prompt) :].tolist())
    return outs


def forward_logprobs(model: Any, prompt: list[int], completion: list[int], temp: float) -> list:
    """log softmax(logits / temp) of each completion token from one plain full forward."""
    ids = torch.tensor([prompt + completion])
    with torch.no_grad():
        logits = model(ids).logits[0, len(prompt) - 1 : -1].float() / temp
    return logits.log_softmax(-1).gather(1, torch.tensor(completion)[:, None])[:, 0].tolist()


def test_greedy_matches_transformers_generate_batched(tiny: tuple) -> None:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    prompts = chat_prompts(tokenizer)
    out = engine.generate(prompts, SamplingParams(max_new_tokens=24, temperature=0.0))
    expected = hf_greedy(model, engine, prompts, 24)
    assert [group[0].token_ids for group in out] == expected
    assert all(len(group[0].token_ids) == 24 for group in out)
    assert all(group[0].finish_reason == "length" for group in out)


def test_logprobs_match_a_plain_forward_pass(tiny: tuple) -> None:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    prompts = chat_prompts(tokenizer)
    params = SamplingParams(max_new_tokens=16, temperature=0.7, seed=3)
    out = engine.generate(prompts, params, n=3)
    for prompt, group in zip(prompts, out, strict=True):
        for completion in group:
            reference = forward_logprobs(model, prompt, completion.token_ids, 0.7)
            assert completion.logprobs == pytest.approx(reference, abs=1e-4)


def test_samples_differ_and_same_seed_reproduces(tiny: tuple) -> None:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    prompts = chat_prompts(tokenizer)[:2]
    params = SamplingParams(max_new_tokens=12, temperature=1.0, seed=7)
    first = engine.generate(prompts, params, n=4)
    again = engine.generate(prompts, params, n=4)
    other = engine.generate(prompts, SamplingParams(max_new_tokens=12, seed=8), n=4)
    ids = [[c.token_ids for c in group] for group in first]
    assert ids == [[c.token_ids for c in group] for group in again]
    assert ids != [[c.token_ids for c in group] for group in other]
    assert all(len({tuple(t) for t in group}) == 4 for group in ids)


def test_stop_token_ends_sample_and_is_included(tiny: tuple) -> None:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    prompt = chat_prompts(tokenizer)[0]
    greedy = engine.generate([prompt], SamplingParams(max_new_tokens=10, temperature=0))[0][0]
    stop = greedy.token_ids[4]
    first = greedy.token_ids.index(stop)
    params = SamplingParams(max_new_tokens=10, temperature=0, stop_token_ids=(stop,))
    stopped = engine.generate([prompt], params)[0][0]
    assert stopped.token_ids == greedy.token_ids[: first + 1]
    assert stopped.finish_reason == "stop"


def test_tiny_top_p_is_greedy_and_top_logprobs_are_sorted(tiny: tuple) -> None:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    prompt = chat_prompts(tokenizer)[1]
    greedy = engine.generate([prompt], SamplingParams(max_new_tokens=8, temperature=0))[0][0]
    params = SamplingParams(max_new_tokens=8, temperature=1.0, top_p=1e-6, top_logprobs=3)
    nucleus = engine.generate([prompt], params, n=2)[0]
    assert all(c.token_ids == greedy.token_ids for c in nucleus)
    tops = nucleus[0].top_logprobs
    assert tops is not None and len(tops) == 8
    for token, position in zip(nucleus[0].token_ids, tops, strict=True):
        assert position[0][0] == token
        assert [lp for _, lp in position] == sorted((lp for _, lp in position), reverse=True)


def test_requests_with_own_params_stop_check_and_streaming(tiny: tuple) -> None:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    prompts = chat_prompts(tokenizer)
    events: list = []
    stop_after_three = GenerationRequest(
        prompts[0],
        SamplingParams(max_new_tokens=20, temperature=0),
        n=2,
        on_step=events.extend,
        stop_check=lambda sample, token: len([e for e in events if e.sample == sample]) >= 2,
    )
    short = GenerationRequest(prompts[2], SamplingParams(max_new_tokens=5, temperature=0))
    engine.run([stop_after_three, short])
    alone = engine.generate([prompts[0]], SamplingParams(max_new_tokens=20, temperature=0))
    assert [c.token_ids for c in stop_after_three.completions] == [alone[0][0].token_ids[:3]] * 2
    assert [c.finish_reason for c in stop_after_three.completions] == ["stop", "stop"]
    assert len(short.completions[0].token_ids) == 5
    assert [e.token_id for e in events if e.sample == 0] == alone[0][0].token_ids[:3]
    assert [e.finish_reason for e in events if e.sample == 1] == [None, None, "stop"]


def test_peft_wrapped_model_uses_its_adapter(tiny: tuple) -> None:
    model, tokenizer = tiny
    prompts = chat_prompts(tokenizer)
    params = SamplingParams(max_new_tokens=10, temperature=0)
    base_out = GenerationEngine(model, tokenizer).generate(prompts, params)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    peft_model = get_peft_model(model, config)
    try:
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 1.0, generator=torch.Generator().manual_seed(0))
        engine = GenerationEngine(peft_model, tokenizer)
        out = engine.generate(prompts, params)
        assert [g[0].token_ids for g in out] == hf_greedy(peft_model, engine, prompts, 10)
        assert [g[0].token_ids for g in out] != [g[0].token_ids for g in base_out]
    finally:
        peft_model.unload()


def test_requests_joining_a_running_batch_decode_as_if_alone(tiny: tuple) -> None:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    prompts = chat_prompts(tokenizer)  # lengths: short, middle, long
    greedy = SamplingParams(max_new_tokens=20, temperature=0)
    alone = [engine.generate([p], greedy)[0][0].token_ids for p in prompts]
    first = GenerationRequest(prompts[1], greedy)
    later = [
        GenerationRequest(prompts[0], greedy, n=2),
        GenerationRequest(prompts[2], SamplingParams(max_new_tokens=5, temperature=0)),
    ]
    done: list[GenerationRequest] = []
    for request in [first, *later]:
        request.on_done = lambda r=request: done.append(r)
    calls: list[int] = []

    def admit(live_rows: int) -> list[GenerationRequest]:
        calls.append(live_rows)
        return later if len(calls) == 3 else []

    engine.run([first], admit=admit)
    assert first.completions[0].token_ids == alone[1]
    assert [c.token_ids for c in later[0].completions] == [alone[0], alone[0]]
    assert later[1].completions[0].token_ids == alone[2][:5]
    assert calls[:4] == [1, 1, 1, 4]
    assert done.index(later[1]) < done.index(first)
