"""A score_model judge's answer schema bounds the score's decimals, so a judge that keeps writing
zeros is stopped by the grammar, not by its token limit (which left unparsable JSON)."""

from __future__ import annotations

from typing import Any

from openrft.graders.model_grader import ScoreModelGrader
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
