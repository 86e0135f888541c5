"""Grader limits are settings: lowered with ``serve`` flags, each refusal is a 400 OpenAI error
object that names the limit and the setting that raises it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.integration.conftest import ServerHandle, start_server

FLAGS = (
    "--max-template-chars",
    "100",
    "--max-render-chars",
    "50",
    "--max-grader-source-bytes",
    "200",
    "--max-lambda-timeout-s",
    "60",
    "--max-lambda-retries",
    "2",
)
CHECK = {"type": "string_check", "name": "g", "operation": "eq", "reference": "x"}
LAMBDA_URL = "https://example.invalid/reward"


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("grader-limits"), extra_args=FLAGS) as handle:
        yield handle


def _refusal(server: ServerHandle, grader: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/fine_tuning/alpha/graders/validate", json={"grader": grader}
    )
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    return error


@pytest.mark.parametrize(
    ("grader", "param", "says"),
    [
        (CHECK | {"input": "y" * 101}, "grader.input", ["100", "--max-template-chars"]),
        (
            {"type": "python", "name": "p", "source": "def grade(s, i):\n    return 1.0\n" * 8},
            "grader.source",
            ["200 bytes", "--max-grader-source-bytes"],
        ),
        (
            {"type": "lambda", "lambda": {"function": LAMBDA_URL, "max_retries": 3}},
            "grader.lambda.max_retries",
            ["from 0 to 2", "--max-lambda-retries"],
        ),
        (
            {"type": "lambda", "lambda": {"function": LAMBDA_URL, "timeout_s": 61}},
            "grader.lambda.timeout_s",
            ["to 60.0", "--max-lambda-timeout-s"],
        ),
    ],
)
def test_a_lowered_limit_is_a_400_naming_it_and_its_setting(
    capped: ServerHandle, grader: dict[str, Any], param: str, says: list[str]
) -> None:
    error = _refusal(capped, grader)
    assert error["param"] == param
    setting = says[-1].removeprefix("--").replace("-", "_").upper()
    for text in [*says, f"OPENRFT_{setting}"]:
        assert text in error["message"], error["message"]


def test_the_default_limits_accept_what_the_lowered_ones_refuse(server: ServerHandle) -> None:
    response = httpx.post(
        f"{server.base_url}/fine_tuning/alpha/graders/validate",
        json={"grader": CHECK | {"input": "y" * 101}},
    )
    assert response.status_code == 200, response.text


def test_a_grader_upload_over_the_source_cap_is_a_400(capped: ServerHandle) -> None:
    source = b"def lambda_handler(event, context):\n    return []\n" + b"#" * 300
    with pytest.raises(openai.BadRequestError) as info:
        capped.client().files.create(file=("reward.py", source), purpose="grader")
    assert "OPENRFT_MAX_GRADER_SOURCE_BYTES" in info.value.message


def test_a_render_over_the_cap_is_an_invalid_variable_grade(capped: ServerHandle) -> None:
    grader = CHECK | {"input": "{{sample.output_text}}"}
    response = capped.client().fine_tuning.alpha.graders.run(
        grader=grader,  # type: ignore[arg-type]
        model_sample="z" * 51,
    )
    assert response.metadata.errors.invalid_variable_error is True
    fits = capped.client().fine_tuning.alpha.graders.run(
        grader=grader,  # type: ignore[arg-type]
        model_sample="x",
    )
    assert fits.reward == 1.0 and not fits.metadata.errors.invalid_variable_error
