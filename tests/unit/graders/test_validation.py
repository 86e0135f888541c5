from __future__ import annotations

import pytest

from openrft.errors import InvalidRequestError
from openrft.graders import validate_grader

P = "method.reinforcement.grader"
CHECK = {
    "type": "string_check",
    "input": "{{sample.output_text}}",
    "reference": "a",
    "operation": "eq",
}


def _param_of(spec: object) -> str | None:
    with pytest.raises(InvalidRequestError) as info:
        validate_grader(spec, param=P)
    return info.value.param


def test_unknown_and_non_object_types() -> None:
    assert _param_of({"type": "nope"}) == f"{P}.type"
    assert _param_of({"name": "x"}) == f"{P}.type"
    assert _param_of(["string_check"]) == P


def test_normalizes_name_and_keeps_fields() -> None:
    spec = validate_grader(CHECK, param=P)
    assert spec == {**CHECK, "name": "string_check"}


def test_multi_errors_name_the_field() -> None:
    multi = {"type": "multi", "graders": {"a": CHECK}, "calculate_output": "a + b"}
    assert _param_of(multi) == f"{P}.calculate_output"
    bad_sub = {
        "type": "multi",
        "graders": {"a": {**CHECK, "operation": "x"}},
        "calculate_output": "a",
    }
    assert _param_of(bad_sub) == f"{P}.graders.a.operation"
    nested = {"type": "multi", "graders": {"a": {**bad_sub}}, "calculate_output": "a"}
    assert _param_of(nested) == f"{P}.graders.a.type"
    assert _param_of({"type": "multi", "graders": {}, "calculate_output": "1"}) == f"{P}.graders"
