"""The engine against transformers on the real SmolLM2-135M-Instruct (short runs)."""

from __future__ import annotations

import pytest

from openrft.inference.engine import GenerationEngine, SamplingParams
from tests.unit.inference.test_engine import chat_prompts, forward_logprobs, hf_greedy


def test_smollm2_greedy_matches_transformers_and_logprobs_match_forward(smollm2: tuple) -> None:
    model, tokenizer = smollm2
    engine = GenerationEngine(model, tokenizer)
    prompts = chat_prompts(tokenizer)[:2]
    out = engine.generate(prompts, SamplingParams(max_new_tokens=12, temperature=0.0))
    assert [group[0].token_ids for group in out] == hf_greedy(model, engine, prompts, 12)
    completion = out[1][0]
    reference = forward_logprobs(model, prompts[1], completion.token_ids, 1.0)
    assert completion.logprobs == pytest.approx(reference, abs=2e-3)


@pytest.mark.slow
def test_smollm2_long_greedy_batch_matches_transformers(smollm2: tuple) -> None:
    model, tokenizer = smollm2
    engine = GenerationEngine(model, tokenizer)
    prompts = chat_prompts(tokenizer)
    out = engine.generate(prompts, SamplingParams(max_new_tokens=32, temperature=0.0), n=2)
    expected = hf_greedy(model, engine, prompts, 32)
    assert [[c.token_ids for c in group] for group in out] == [[e, e] for e in expected]
