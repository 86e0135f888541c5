"""A score_model judge's answer schema bounds the score's decimals, so a judge that keeps writing
zeros is stopped by the grammar, not by its token limit (which left unparsable JSON)."""

from __future__ import annotations

import json
from typing import Any

from openrft.graders.model_grader import MAX_STEP_CHARS, ScoreModelGrader, step_chars
from openrft.graders.types import GraderContext
from openrft.inference.constraints import Grammars, json_grammar
from openrft.inference.engine import GenerationEngine

SPEC = {
    "name": "judge",
    "model": "m",
    "input": [{"role": "user", "content": "{{sample.output_text}}"}],
    "range": [0.0, 1.0],
    "sampling_params": {},
}


def _valid_prefix(tiny: tuple[Any, Any], schema: dict[str, Any], text: str) -> tuple[int, int]:
    """(tokens of ``text`` the grammar of ``schema`` accepts, tokens of ``text``)."""
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    grammars = Grammars(tokenizer, engine.vocab_size, sorted(engine.default_stop_ids))
    constraint: Any = grammars.constraint(json_grammar(schema))()
    tokens = grammars.tokenizer.greedy_tokenize(text)
    return constraint.matcher.validate_tokens(tokens), len(tokens)


def _answer_schema(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"result": result},
        "required": ["result"],
        "additionalProperties": False,
    }


def test_a_score_takes_at_most_three_decimals(tiny: tuple[Any, Any]) -> None:
    schema = _answer_schema(ScoreModelGrader(SPEC, GraderContext()).result_schema())
    ok, total = _valid_prefix(tiny, schema, '{"result": 0.875}')
    assert ok == total
    runaway = '{"result": 1.' + "0" * 40
    ok, total = _valid_prefix(tiny, schema, runaway)
    assert ok < total
    # The bare number schema (before the fix) lets the zeros run on to the token limit.
    unbounded = _answer_schema({"type": "number", "minimum": 0.0, "maximum": 1.0})
    assert _valid_prefix(tiny, unbounded, runaway) == (total, total)


def _steps_answer(steps: list[tuple[str, str]]) -> str:
    items = [{"description": d, "conclusion": c} for d, c in steps]
    return json.dumps({"steps": items, "result": 1.0})


def test_reasoning_fields_fit_the_token_budget_in_plain_ascii(tiny: tuple[Any, Any]) -> None:
    spec = {**SPEC, "sampling_params": {"max_completions_tokens": 400}}
    grader = ScoreModelGrader(spec, GraderContext())
    schema = grader._response_format()["json_schema"]["schema"]
    limit = step_chars(400)
    assert limit == (400 - 64) // 6
    fits = _steps_answer([("a" * limit, "b" * limit)] * 3)
    ok, total = _valid_prefix(tiny, schema, fits)
    assert ok == total
    for bad in ("a" * (limit + 1), 'say "x"', "caf\u00e9", "a\\nb"):
        ok, total = _valid_prefix(tiny, schema, _steps_answer([(bad, "b")]))
        assert ok < total, bad
    # Every field at its maximum still ends within the budget at one token per character.
    assert 6 * limit + 64 <= 400


def test_a_grader_without_a_token_limit_gets_the_default_step_length() -> None:
    assert step_chars(None) == MAX_STEP_CHARS
    assert step_chars(40) == 8
