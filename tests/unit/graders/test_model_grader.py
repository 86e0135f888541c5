from __future__ import annotations

from collections.abc import Iterator

import pytest

from openrft.errors import InvalidRequestError
from openrft.graders import GraderContext, ValidationContext, build_grader, validate_grader
from tests.unit.graders.chat_server import ChatServer, running_chat_server
from tests.unit.graders.conftest import make_request

SCORE = {
    "type": "score_model",
    "name": "judge",
    "model": "judge-model",
    "input": [
        {"role": "system", "content": "Grade 0-10."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Answer: {{sample.output_text}}"},
                " Reference: {{item.ref}}",
            ],
        },
    ],
    "range": [0, 10],
    "sampling_params": {"temperature": 0.0, "max_completions_tokens": 64},
}
LABEL = {
    "type": "label_model",
    "name": "tone",
    "model": "judge-model",
    "input": [{"role": "user", "content": "{{sample.output_text}}"}],
    "labels": ["polite", "rude"],
    "passing_labels": ["polite"],
}


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with running_chat_server() as server:
        yield server


async def _grade_score(chat: ChatServer, scenario: str, item: dict | None = None):
    ctx = GraderContext(chat_base_url=chat.base_url(scenario))
    grader = build_grader(validate_grader(SCORE), ctx)
    [result] = await grader.grade([make_request("42", item if item is not None else {"ref": "41"})])
    await grader.aclose()
    return result


async def test_score_model_request_and_reward(chat: ChatServer) -> None:
    result = await _grade_score(chat, "score-7")
    assert result.reward == 7.0 and not result.has_error
    assert result.token_usage == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "cached_tokens": 0,
    }
    assert result.token_usage_per_model["judge-model"]["total_tokens"] == 15
    [body] = chat.requests
    assert body["messages"][1] == {"role": "user", "content": "Answer: 42 Reference: 41"}
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["steps", "result"]
    assert body["temperature"] == 0.0 and body["max_completion_tokens"] == 64


@pytest.mark.parametrize(("scenario", "reward"), [("score-12.5", 10.0), ("score--3", 0.0)])
async def test_score_is_clamped_to_range(chat: ChatServer, scenario: str, reward: float) -> None:
    assert (await _grade_score(chat, scenario)).reward == reward


@pytest.mark.parametrize(
    ("scenario", "flag"),
    [
        ("text", "model_grader_parse_error"),
        ("label-high", "model_grader_parse_error"),
        ("refuse", "model_grader_refusal_error"),
        ("error", "model_grader_server_error"),
    ],
)
async def test_failures_score_zero_with_flag(chat: ChatServer, scenario: str, flag: str) -> None:
    result = await _grade_score(chat, scenario)
    assert result.reward == 0.0 and result.errors[flag] is True


async def test_missing_variable_does_not_call_the_model(chat: ChatServer) -> None:
    result = await _grade_score(chat, "score-7", item={})
    assert result.errors["invalid_variable_error"] is True
    assert chat.requests == []


@pytest.mark.parametrize(("scenario", "reward"), [("label-polite", 1.0), ("label-rude", 0.0)])
async def test_label_model_in_multi(chat: ChatServer, scenario: str, reward: float) -> None:
    spec = {"type": "multi", "graders": {"tone": LABEL}, "calculate_output": "tone * 2"}
    grader = build_grader(
        validate_grader(spec), GraderContext(chat_base_url=chat.base_url(scenario))
    )
    [result] = await grader.grade([make_request("thanks!")])
    assert result.reward == 2 * reward
    assert result.sub_rewards == {"tone": reward}
    assert result.token_usage is not None and result.token_usage["total_tokens"] == 15
    schema = chat.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["result"]["enum"] == ["polite", "rude"]
    await grader.aclose()


def test_validation_errors_name_fields() -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_grader(LABEL, param="g")
    assert info.value.param == "g.type"
    cases = [
        ({**SCORE, "range": [1, 0]}, "g.range"),
        ({**SCORE, "input": []}, "g.input"),
        ({**SCORE, "input": [{"role": "bot", "content": "x"}]}, "g.input[0].role"),
        ({**SCORE, "input": [{"role": "user", "content": "{{bad}}"}]}, "g.input[0].content[0]"),
        ({**SCORE, "sampling_params": {"temp": 1}}, "g.sampling_params.temp"),
    ]
    for spec, param in cases:
        with pytest.raises(InvalidRequestError) as info:
            validate_grader(spec, param="g")
        assert info.value.param == param
    bad_label = {**LABEL, "passing_labels": ["great"]}
    with pytest.raises(InvalidRequestError) as info:
        validate_grader({"type": "multi", "graders": {"t": bad_label}, "calculate_output": "t"})
    assert info.value.param == "grader.graders.t.passing_labels"


def test_grader_model_must_be_one_the_server_serves() -> None:
    served = ValidationContext(knows_model=lambda model: model == "judge-model")
    assert validate_grader(SCORE, ctx=served)["model"] == "judge-model"
    multi = {"type": "multi", "graders": {"tone": {**LABEL, "model": "gpt-nope"}}}
    with pytest.raises(InvalidRequestError) as info:
        validate_grader({**multi, "calculate_output": "tone"}, param="g", ctx=served)
    assert info.value.param == "g.graders.tone.model" and info.value.code == "model_not_found"
    assert "'gpt-nope'" in info.value.message


async def test_server_errors_name_the_grader_model(chat: ChatServer) -> None:
    result = await _grade_score(chat, "error")
    assert "'judge-model'" in result.errors["model_grader_server_error_details"]
