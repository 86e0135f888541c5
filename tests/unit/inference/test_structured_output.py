"""JSON-constrained decoding (structured output) in the engine, on tiny-random-llama.

A random model is the hardest judge of a grammar: left alone it never writes JSON, and it
samples special tokens and control bytes freely, so every strict parse below is the
constraint's doing.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from openrft.domain.response_format import chat_output_format
from openrft.errors import InvalidRequestError
from openrft.inference.constraints import grammars_for, json_grammar
from openrft.inference.engine import GenerationEngine, GenerationRequest, SamplingParams
from openrft.inference.text_generation import _json_output
from openrft.inference.tokens import encode_chat

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "score": {"type": "integer", "minimum": 0, "maximum": 9},
        "sure": {"type": "boolean"},
        "note": {"type": "string", "maxLength": 12},
        "tags": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 6}},
    },
    "required": ["verdict", "score", "sure", "note", "tags"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def setup(tiny: tuple) -> tuple[GenerationEngine, list[int]]:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    prompt = encode_chat(tokenizer, [{"role": "user", "content": "Grade this. Answer in JSON."}])
    return engine, prompt


def constraint(engine: GenerationEngine, schema: dict[str, Any]) -> Any:
    stops = sorted(engine.default_stop_ids)
    grammars = grammars_for(engine.tokenizer, engine.vocab_size, stops)
    return grammars.constraint(json_grammar(schema))


def parsed(engine: GenerationEngine, token_ids: list[int]) -> Any:
    """The sample as JSON, parsed strictly (no raw control characters in strings)."""
    return json.loads(engine.tokenizer.decode(token_ids, skip_special_tokens=True), strict=True)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_every_sample_follows_the_schema(setup: tuple, temperature: float) -> None:
    engine, prompt = setup
    request = GenerationRequest(
        prompt,
        SamplingParams(max_new_tokens=200, temperature=temperature, seed=3),
        n=8,
        constraint=constraint(engine, SCHEMA),
    )
    engine.run([request])
    for completion in request.completions:
        assert completion.finish_reason == "stop"
        assert completion.token_ids[-1] in engine.default_stop_ids
        special = set(engine.tokenizer.all_special_ids)
        assert not special & set(completion.token_ids[:-1])  # never text inside the JSON
        jsonschema.validate(parsed(engine, completion.token_ids), SCHEMA)


def test_unconstrained_rows_in_the_same_batch_are_unchanged(setup: tuple) -> None:
    engine, prompt = setup
    greedy = SamplingParams(max_new_tokens=40, temperature=0.0)
    [[alone]] = engine.generate([prompt], greedy)
    free = GenerationRequest(prompt, greedy)
    constrained = GenerationRequest(
        prompt,
        SamplingParams(max_new_tokens=200, temperature=0.0),
        n=2,
        constraint=constraint(engine, SCHEMA),
    )
    engine.run([constrained, free])
    assert free.completions[0].token_ids == alone.token_ids
    text = engine.tokenizer.decode(alone.token_ids, skip_special_tokens=True)
    assert not text.startswith("{")  # the model alone writes no JSON
    for completion in constrained.completions:
        jsonschema.validate(parsed(engine, completion.token_ids), SCHEMA)


def test_a_constrained_request_joins_a_running_batch(setup: tuple) -> None:
    engine, prompt = setup
    running = GenerationRequest(prompt, SamplingParams(max_new_tokens=30, temperature=0.0))
    joining = GenerationRequest(
        prompt,
        SamplingParams(max_new_tokens=200, temperature=1.0, seed=5),
        n=3,
        constraint=constraint(engine, SCHEMA),
    )
    pending = [joining]

    def admit(live_rows: int) -> list[GenerationRequest]:
        return [pending.pop()] if pending else []

    engine.run([running], admit)
    assert len(running.completions[0].token_ids) == 30
    for completion in joining.completions:
        jsonschema.validate(parsed(engine, completion.token_ids), SCHEMA)


def test_json_object_gives_an_object(setup: tuple) -> None:
    engine, prompt = setup
    request = GenerationRequest(
        prompt,
        SamplingParams(max_new_tokens=300, temperature=1.0, seed=1),
        n=4,
        constraint=constraint(engine, {"type": "object"}),
    )
    engine.run([request])
    for completion in request.completions:
        text = engine.tokenizer.decode(completion.token_ids, skip_special_tokens=True)
        assert text.startswith("{")
        if completion.finish_reason == "stop":
            assert isinstance(json.loads(text), dict)


class _Loaded:
    """The two attributes ``_json_output`` reads from a pool's loaded model."""

    def __init__(self, engine: GenerationEngine) -> None:
        self.engine = engine
        self.tokenizer = engine.tokenizer


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "nonsense"}, "Invalid type: nonsense"),
        ({"type": "integer", "minimum": 5, "maximum": 1}, "minimum (5) is greater than maximum"),
    ],
)
def test_a_schema_that_cannot_be_enforced_is_a_400(
    setup: tuple, schema: dict[str, Any], reason: str
) -> None:
    engine, _ = setup
    output_format = chat_output_format(
        {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    with pytest.raises(InvalidRequestError) as info:
        _json_output(_Loaded(engine), output_format)  # type: ignore[arg-type]
    assert info.value.param == "response_format.json_schema.schema"
    assert info.value.message.startswith("The JSON schema cannot be enforced: ")
    assert reason in info.value.message and "start:" not in info.value.message
