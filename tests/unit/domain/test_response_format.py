"""OpenAI's ``response_format`` and ``text.format`` shapes → one OutputFormat, or a 400."""

from __future__ import annotations

from typing import Any

import pytest

from openrft.domain.response_format import (
    ANY_OBJECT,
    TEXT,
    chat_output_format,
    responses_output_format,
)
from openrft.errors import InvalidRequestError

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_chat_shapes() -> None:
    assert chat_output_format(None) == TEXT
    assert chat_output_format({"type": "text"}) == TEXT
    as_object = chat_output_format({"type": "json_object"})
    assert as_object.constrained and as_object.schema == ANY_OBJECT
    given = {"name": "answer", "schema": SCHEMA, "strict": True}
    fmt = chat_output_format({"type": "json_schema", "json_schema": given})
    assert fmt.constrained and fmt.schema == SCHEMA
    assert fmt.param == "response_format.json_schema.schema"
    without = chat_output_format({"type": "json_schema", "json_schema": {"name": "x"}})
    assert without.schema == ANY_OBJECT


def test_responses_shape_is_flat() -> None:
    assert responses_output_format({"type": "text"}) == TEXT
    fmt = responses_output_format({"type": "json_schema", "name": "answer", "schema": SCHEMA})
    assert fmt.schema == SCHEMA and fmt.param == "text.format.schema"


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ({"type": "xml"}, "response_format.type"),
        ("json", "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        (
            {"type": "json_schema", "json_schema": {"schema": SCHEMA}},
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "bad name", "schema": SCHEMA}},
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "a", "schema": [1]}},
            "response_format.json_schema.schema",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA, "strict": 1}},
            "response_format.json_schema.strict",
        ),
    ],
)
def test_bad_chat_formats_name_the_field(value: Any, param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        chat_output_format(value)
    assert info.value.param == param


def test_bad_responses_format_names_the_field() -> None:
    with pytest.raises(InvalidRequestError) as info:
        responses_output_format({"type": "json_schema", "schema": SCHEMA})
    assert info.value.param == "text.format.name"
