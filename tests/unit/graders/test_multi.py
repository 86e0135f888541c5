from __future__ import annotations

from openrft.graders import GraderContext, build_grader, error_rate, mean_metrics, validate_grader
from tests.unit.graders.conftest import make_request

SPEC = {
    "type": "multi",
    "name": "g",
    "graders": {
        "name": {
            "type": "string_check",
            "name": "name_grader",
            "input": "{{sample.output_json.name}}",
            "reference": "{{item.name}}",
            "operation": "eq",
        },
        "email": {
            "type": "string_check",
            "name": "email_grader",
            "input": "{{sample.output_json.email}}",
            "reference": "{{item.email}}",
            "operation": "eq",
        },
    },
    "calculate_output": "(name + email) / 2",
}
ITEM = {"name": "Ann", "email": "a@x.io"}


async def test_combines_sub_rewards_with_formula() -> None:
    grader = build_grader(validate_grader(SPEC), GraderContext())
    results = await grader.grade(
        [
            make_request('{"name": "Ann", "email": "a@x.io"}', ITEM),
            make_request('{"name": "Ann", "email": "b@x.io"}', ITEM),
            make_request('{"name": "Ann"}', ITEM),
        ]
    )
    assert [r.reward for r in results] == [1.0, 0.5, 0.5]
    assert results[1].sub_rewards == {"name": 1.0, "email": 0.0}
    assert results[2].errors["invalid_variable_error"] is True
    assert not results[0].has_error
    assert error_rate(results) == 1 / 3
    assert mean_metrics(results) == {"grader/name": 1.0, "grader/email": 1 / 3}
    await grader.aclose()


async def test_formula_runtime_error_flags_and_scores_zero() -> None:
    spec = {**SPEC, "calculate_output": "name / email"}
    grader = build_grader(validate_grader(spec), GraderContext())
    [result] = await grader.grade([make_request('{"name": "Ann", "email": "no"}', ITEM)])
    assert result.reward == 0.0
    assert result.errors["formula_parse_error"] is True
