"""Structured output through the official SDK on a live server (tiny-random-llama, which never
writes JSON on its own): chat ``response_format``, ``chat.completions.parse`` with a pydantic
model, streaming, and the Responses API's ``text.format``."""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema
import openai
import pytest
from pydantic import BaseModel

from tests.integration.conftest import ServerHandle

MODEL = "tiny-random-llama"
ASK = [{"role": "user", "content": "Grade the answer 4 to 2+2 and reply in JSON."}]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "score": {"type": "integer", "minimum": 0, "maximum": 9},
        "sure": {"type": "boolean"},
    },
    "required": ["verdict", "score", "sure"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "grade", "schema": SCHEMA, "strict": True},
}


class Grade(BaseModel):
    verdict: Literal["pass", "fail"]
    sure: bool


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> openai.OpenAI:
    """The SDK client, once the model is loaded and its vocabulary analysed for grammars
    (the first request's cost, which a busy machine can stretch past the 30 s timeout)."""
    client = server.client()
    client.with_options(timeout=600).chat.completions.create(
        model=MODEL,
        messages=ASK,  # type: ignore[arg-type]
        response_format={"type": "json_object"},
        max_completion_tokens=1,
    )
    return client


def test_chat_json_schema_samples_all_follow_the_schema(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=ASK,  # type: ignore[arg-type]
        response_format=RESPONSE_FORMAT,  # type: ignore[arg-type]
        n=3,
        seed=11,
        max_completion_tokens=200,
    )
    for choice in response.choices:
        assert choice.finish_reason == "stop"
        jsonschema.validate(json.loads(choice.message.content or ""), SCHEMA)


def test_chat_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model=MODEL,
        messages=ASK,  # type: ignore[arg-type]
        response_format=Grade,
        temperature=0,
        max_completion_tokens=100,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Grade) and parsed.verdict in ("pass", "fail")


def test_streamed_json_object_rebuilds_an_object(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=ASK,  # type: ignore[arg-type]
        response_format=RESPONSE_FORMAT,  # type: ignore[arg-type]
        temperature=0,
        max_completion_tokens=200,
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    jsonschema.validate(json.loads(text), SCHEMA)


def test_responses_text_format(client: openai.OpenAI) -> None:
    text_format = {"type": "json_schema", "name": "grade", "schema": SCHEMA, "strict": True}
    response = client.responses.create(
        model=MODEL,
        input="Grade the answer 4 to 2+2.",
        text={"format": text_format},  # type: ignore[typeddict-item]
        temperature=0,
        max_output_tokens=200,
    )
    assert response.status == "completed"
    jsonschema.validate(json.loads(response.output_text), SCHEMA)
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    parsed = client.responses.parse(
        model=MODEL, input="Grade it.", text_format=Grade, temperature=0, max_output_tokens=100
    )
    assert isinstance(parsed.output_parsed, Grade)


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "g", "schema": {"type": "nonsense"}}},
            "response_format.json_schema.schema",
        ),
        (
            {"type": "json_schema", "json_schema": {"schema": SCHEMA}},
            "response_format.json_schema.name",
        ),
        ({"type": "yaml"}, "response_format.type"),
    ],
)
def test_bad_formats_are_400_naming_the_field(
    client: openai.OpenAI, response_format: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL,
            messages=ASK,  # type: ignore[arg-type]
            response_format=response_format,  # type: ignore[arg-type]
        )
    assert info.value.body["param"] == param  # type: ignore[index]
