"""JSON-constrained decoding in the engine (xgrammar), on tiny-random-llama.

A random model is the hardest judge of a grammar: left alone it never writes JSON, so every
parse below is the constraint's doing.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import xgrammar as xgr

from openrft.domain.response_format import chat_output_format
from openrft.errors import InvalidRequestError
from openrft.inference.engine import GenerationEngine, GenerationRequest, SamplingParams
from openrft.inference.grammar import JsonGrammars, bounded_strings_as_patterns
from openrft.inference.tokens import encode_chat

# Free-form strings of a random model are random bytes: keep them to ASCII words here.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "score": {"type": "integer", "minimum": 0, "maximum": 9},
        "sure": {"type": "boolean"},
        "tags": {
            "type": "array",
            "maxItems": 3,
            "items": {"type": "string", "pattern": "^[a-z]{1,8}$"},
        },
    },
    "required": ["verdict", "score", "sure", "tags"],
    "additionalProperties": False,
}


def json_format(schema: dict[str, Any]) -> Any:
    return chat_output_format(
        {"type": "json_schema", "json_schema": {"name": "out", "schema": schema}}
    )


@pytest.fixture(scope="module")
def setup(tiny: tuple) -> tuple[GenerationEngine, JsonGrammars, list[int]]:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    vocab = int(model.get_output_embeddings().weight.shape[0])
    grammars = JsonGrammars(tokenizer, vocab, engine.default_stop_ids)
    prompt = encode_chat(tokenizer, [{"role": "user", "content": "Grade this. Answer in JSON."}])
    return engine, grammars, prompt


def decode(engine: GenerationEngine, token_ids: list[int]) -> str:
    return str(engine.tokenizer.decode(token_ids, skip_special_tokens=True))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_every_sample_follows_the_schema(setup: tuple, temperature: float) -> None:
    engine, grammars, prompt = setup
    request = GenerationRequest(
        prompt,
        SamplingParams(max_new_tokens=200, temperature=temperature, seed=3),
        n=4,
        grammar=grammars.compile(json_format(SCHEMA)),
    )
    engine.run([request])
    for completion in request.completions:
        assert completion.finish_reason == "stop"
        assert completion.token_ids[-1] in engine.default_stop_ids
        jsonschema.validate(json.loads(decode(engine, completion.token_ids)), SCHEMA)


def test_unconstrained_rows_in_the_same_batch_are_unchanged(setup: tuple) -> None:
    engine, grammars, prompt = setup
    greedy = SamplingParams(max_new_tokens=40, temperature=0.0)
    [[alone]] = engine.generate([prompt], greedy)
    free = GenerationRequest(prompt, greedy)
    constrained = GenerationRequest(
        prompt,
        SamplingParams(max_new_tokens=200, temperature=0.0),
        n=2,
        grammar=grammars.compile(json_format(SCHEMA)),
    )
    engine.run([constrained, free])
    assert free.completions[0].token_ids == alone.token_ids
    assert not decode(engine, alone.token_ids).startswith("{")  # the model alone writes no JSON
    for completion in constrained.completions:
        jsonschema.validate(json.loads(decode(engine, completion.token_ids)), SCHEMA)


def test_a_constrained_request_joins_a_running_batch(setup: tuple) -> None:
    engine, grammars, prompt = setup
    running = GenerationRequest(prompt, SamplingParams(max_new_tokens=30, temperature=0.0))
    joining = GenerationRequest(
        prompt,
        SamplingParams(max_new_tokens=200, temperature=1.0, seed=5),
        n=3,
        grammar=grammars.compile(json_format(SCHEMA)),
    )
    pending = [joining]

    def admit(live_rows: int) -> list[GenerationRequest]:
        return [pending.pop()] if pending else []

    engine.run([running], admit)
    assert len(running.completions[0].token_ids) == 30
    for completion in joining.completions:
        jsonschema.validate(json.loads(decode(engine, completion.token_ids)), SCHEMA)


def test_json_object_gives_an_object(setup: tuple) -> None:
    engine, grammars, prompt = setup
    grammar = grammars.compile(chat_output_format({"type": "json_object"}))
    request = GenerationRequest(
        prompt, SamplingParams(max_new_tokens=300, temperature=0.0), grammar=grammar
    )
    engine.run([request])
    [completion] = request.completions
    if completion.finish_reason == "stop":
        assert isinstance(json.loads(decode(engine, completion.token_ids)), dict)
    else:  # out of tokens inside a long object: still a JSON object prefix
        assert decode(engine, completion.token_ids).startswith("{")


def test_special_tokens_are_never_text_inside_json(setup: tuple) -> None:
    engine, grammars, _ = setup
    grammar = grammars.compile(json_format({"type": "object", "properties": {"a": {}}}))
    matcher = xgr.GrammarMatcher(grammar)
    assert matcher.accept_string('{"a": "')
    bitmask = xgr.allocate_token_bitmask(1, grammars.vocab_size)
    matcher.fill_next_token_bitmask(bitmask)
    allowed = xgr.testing.bitmask_to_bool_mask(bitmask)[0]
    special = set(engine.tokenizer.all_special_ids)
    assert special and not any(bool(allowed[i]) for i in special)
    assert bool(allowed[engine.tokenizer.convert_tokens_to_ids("a")])


def test_bounded_strings_never_hold_raw_control_characters(setup: tuple) -> None:
    _, grammars, _ = setup
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}}}
    grammar = grammars.compile(json_format(schema))
    assert xgr.GrammarMatcher(grammar).accept_string('{"a": "abcde"}')
    assert not xgr.GrammarMatcher(grammar).accept_string('{"a": "ab\tc"}')
    assert not xgr.GrammarMatcher(grammar).accept_string('{"a": "abcdef"}')


def test_bounded_strings_as_patterns() -> None:
    schema = {
        "type": "object",
        "properties": {
            "short": {"type": "string", "minLength": 2, "maxLength": 10},
            "long": {"type": "string", "maxLength": 500},
            "own": {"type": "string", "maxLength": 3, "pattern": "^x+$"},
            "list": {"type": "array", "items": {"type": "string", "maxLength": 4}},
        },
    }
    props = bounded_strings_as_patterns(schema)["properties"]
    assert props["short"] == {"type": "string", "pattern": "^.{2,10}$"}
    assert props["long"] == {"type": "string", "maxLength": 500}
    assert props["own"] == {"type": "string", "maxLength": 3, "pattern": "^x+$"}
    assert props["list"]["items"] == {"type": "string", "pattern": "^.{0,4}$"}


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "nonsense"}, 'Unsupported type "nonsense"'),
        (
            {"type": "integer", "minimum": 5, "maximum": 1},
            "Invalid range: minimum greater than maximum",
        ),
    ],
)
def test_a_schema_xgrammar_cannot_enforce_is_a_400(
    setup: tuple, schema: dict[str, Any], words: str
) -> None:
    _, grammars, _ = setup
    with pytest.raises(InvalidRequestError) as info:
        grammars.compile(json_format(schema))
    assert info.value.param == "response_format.json_schema.schema"
    assert info.value.message == f"The JSON schema cannot be enforced: {words}"
