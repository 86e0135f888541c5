"""Lambda retry/timeout/concurrency caps: a job's grader cannot hold a slot for years."""

from __future__ import annotations

import pytest

from openrft.domain.grader_limits import DEFAULT_GRADER_LIMITS as CAPS
from openrft.errors import InvalidRequestError
from openrft.graders import validate_grader
from openrft.graders.lambda_spec import MAX_CONCURRENCY


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("max_retries", CAPS.lambda_retries + 1, f"from 0 to {CAPS.lambda_retries}"),
        ("timeout_s", CAPS.lambda_timeout_s + 1, f"from 0.001 to {CAPS.lambda_timeout_s}"),
        ("concurrency", MAX_CONCURRENCY + 1, f"from 1 to {MAX_CONCURRENCY}"),
        ("max_retries", 10**12, "integer from 0"),
    ],
)
def test_over_the_cap_is_a_400_naming_the_field(field: str, value: float, says: str) -> None:
    spec = {"type": "lambda", "lambda": {"function": "x.py:h", field: value}}
    with pytest.raises(InvalidRequestError, match=says) as info:
        validate_grader(spec)
    assert info.value.param == f"grader.lambda.{field}"
