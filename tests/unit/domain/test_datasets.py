"""Fine-tune JSONL validation: first bad line number and the reason."""

from __future__ import annotations

import json

import pytest

from openrft.domain.datasets import validate_jsonl
from openrft.errors import InvalidRequestError

GOOD = {"messages": [{"role": "user", "content": "2+2?"}], "reference_answer": 4}


def _jsonl(*rows: object) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def test_counts_rows_and_skips_blank_lines() -> None:
    assert validate_jsonl(_jsonl(GOOD, "", GOOD, "   ") + b"\n") == 2


def test_openai_and_bedrock_row_shapes_are_valid() -> None:
    openai_row = {"messages": [{"role": "developer", "content": "x"}], "compliant": "yes"}
    bedrock_row = {"messages": [{"role": "user", "content": "x"}], "reference_answer": {"a": 1}}
    assert validate_jsonl(_jsonl(openai_row, bedrock_row)) == 2


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({"prompt": "x"}, '"messages"'),
        ({"messages": []}, '"messages"'),
        ({"messages": ["hi"]}, "messages[0] is not an object"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, '"content"'),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role must be one of"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {"messages": [{"role": "tool", "content": "x", "tool_call_id": "c9"}]},
            "messages[0].tool_call_id: A 'tool' message must answer a tool call",
        ),
        (
            {"messages": [{"role": "assistant", "content": "", "tool_calls": [{"id": "c"}]}]},
            "messages[0].tool_calls[0]: A tool call must be",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "retrieval"}]},
            "tools[0].type: Only function tools are supported",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}],
            },
            "tools[0].function.parameters",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages[0].content[0]: Content part type 'image_url' is not supported",
        ),
    ],
)
def test_first_bad_line_is_named(line: object, why: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_jsonl(_jsonl(GOOD, GOOD, line, line))
    assert "line 3" in info.value.message
    assert why in info.value.message
    assert info.value.param == "file"


def test_rows_with_tools_calls_and_results_are_valid() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    row = {
        "messages": [
            {"role": "user", "content": "use f"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "2"},
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    assert validate_jsonl(_jsonl(row)) == 1


def test_empty_file_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="no rows"):
        validate_jsonl(b"\n\n")


def test_non_utf8_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="UTF-8"):
        validate_jsonl(b"\xff\xfe")
