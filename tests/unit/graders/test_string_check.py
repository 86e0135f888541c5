from __future__ import annotations

import pytest

from openrft.errors import InvalidRequestError
from openrft.graders import GraderContext, build_grader, validate_grader
from tests.unit.graders.conftest import make_request


def _grader(operation: str, reference: str = "{{item.ref}}"):
    spec = {"type": "string_check", "name": "s", "input": "{{sample.output_text}}"}
    spec |= {"reference": reference, "operation": operation}
    return build_grader(validate_grader(spec), GraderContext())


@pytest.mark.parametrize(
    ("operation", "output", "expected"),
    [
        ("eq", "Paris", 1.0),
        ("eq", "paris", 0.0),
        ("ne", "paris", 1.0),
        ("ne", "Paris", 0.0),
        ("like", "It is Paris.", 1.0),
        ("like", "It is paris.", 0.0),
        ("ilike", "IT IS PARIS", 1.0),
        ("ilike", "London", 0.0),
    ],
)
async def test_operations(operation: str, output: str, expected: float) -> None:
    [result] = await _grader(operation).grade([make_request(output, {"ref": "Paris"})])
    assert result.reward == expected
    assert not result.has_error


async def test_missing_variable_scores_zero_with_flag() -> None:
    results = await _grader("eq").grade(
        [make_request("Paris", {"other": 1}), make_request("Paris", {"ref": "Paris"})]
    )
    assert results[0].reward == 0.0
    assert results[0].errors["invalid_variable_error"] is True
    assert results[1].reward == 1.0


def test_validation_names_fields() -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_grader(
            {"type": "string_check", "input": "x", "reference": "y", "operation": "neq"},
            param="method.reinforcement.grader",
        )
    assert info.value.param == "method.reinforcement.grader.operation"
    with pytest.raises(InvalidRequestError) as info:
        validate_grader(
            {"type": "string_check", "input": "{{x.y}}", "reference": "y", "operation": "eq"}
        )
    assert info.value.param == "grader.input"
