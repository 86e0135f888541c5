"""The Hermes tool-call text format: parsing (whole and streamed) and the default rendering."""

from __future__ import annotations

import json

import pytest

from openrft.domain.messages import normalize_messages
from openrft.domain.tool_format import (
    ParsedCall,
    ToolCallStream,
    parse_tool_calls,
    render_call,
    to_default_format,
    tool_instructions,
)
from openrft.domain.tools import normalize_tool_choice, normalize_tools
from openrft.errors import InvalidRequestError

TOOLS = normalize_tools([{"type": "function", "function": {"name": "lookup"}}])
CALL = '<tool_call>\n{"name": "lookup", "arguments": {"key": "a b"}}\n</tool_call>'


def test_text_without_calls_is_all_content() -> None:
    parsed = parse_tool_calls("Paris is sunny.")
    assert (parsed.content, parsed.calls) == ("Paris is sunny.", [])


def test_calls_are_parsed_and_the_text_around_them_kept() -> None:
    parsed = parse_tool_calls(f"Let me look.\n{CALL}\n{CALL}\n")
    assert parsed.content == "Let me look."
    assert parsed.calls == [ParsedCall("lookup", '{"key": "a b"}')] * 2


@pytest.mark.parametrize(
    "block",
    [
        "<tool_call>\nnot json\n</tool_call>",
        '<tool_call>\n{"arguments": {}}\n</tool_call>',
        '<tool_call>\n{"name": "f", "arguments": [1]}\n</tool_call>',
    ],
)
def test_a_malformed_call_stays_content(block: str) -> None:
    parsed = parse_tool_calls(f"x {block}")
    assert parsed.calls == [] and parsed.content == f"x {block}"


def test_an_unclosed_call_counts_when_it_parses_and_arguments_may_be_a_string() -> None:
    parsed = parse_tool_calls('<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}')
    assert parsed.calls == [ParsedCall("f", '{"a": 1}')]
    cut = parse_tool_calls('<tool_call>\n{"name": "f", "argu')
    assert cut.calls == [] and cut.content.startswith("<tool_call>")


def test_streaming_in_any_chunking_gives_the_same_content_and_calls() -> None:
    text = f"Checking <now>.\n{CALL}\n{CALL}"
    whole = parse_tool_calls(text)
    for size in (1, 2, 3, 7, 50):
        stream = ToolCallStream()
        shown = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size))
        shown += stream.finish()
        assert stream.calls == whole.calls
        assert shown.strip() == whole.content
        assert "<tool" not in shown  # a tag prefix is never shown as content


def test_default_format_lists_tools_in_the_system_message_and_merges_results() -> None:
    messages = normalize_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "a",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": "{}"},
                    },
                    {
                        "id": "b",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": {"k": 1}},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": "one"},
            {"role": "tool", "tool_call_id": "b", "content": "two"},
        ]
    )
    plain = to_default_format(messages, TOOLS)
    assert [m["role"] for m in plain] == ["system", "user", "assistant", "user"]
    assert plain[0]["content"] == "Be brief.\n\n" + tool_instructions(TOOLS)
    assert json.dumps(TOOLS[0]) in plain[0]["content"]
    assert plain[2]["content"] == render_call("lookup", {}) + "\n" + render_call("lookup", {"k": 1})
    assert plain[3]["content"] == (
        "<tool_response>\none\n</tool_response>\n<tool_response>\ntwo\n</tool_response>"
    )
    assert parse_tool_calls(plain[2]["content"]).calls == [
        ParsedCall("lookup", "{}"),
        ParsedCall("lookup", '{"k": 1}'),
    ]


def test_conversations_without_tools_are_unchanged() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert to_default_format(messages, None) == messages


def test_tool_choice_rules() -> None:
    assert normalize_tool_choice(None, TOOLS).mode == "auto"
    assert normalize_tool_choice(None, []).mode == "none"
    named = normalize_tool_choice({"type": "function", "function": {"name": "lookup"}}, TOOLS)
    assert (named.mode, named.name, named.forces_call) == ("named", "lookup", True)
    flat = normalize_tool_choice({"type": "function", "name": "lookup"}, TOOLS)
    assert flat == named
    for bad in ("required", {"type": "function", "function": {"name": "other"}}, "sometimes"):
        with pytest.raises(InvalidRequestError) as info:
            normalize_tool_choice(bad, TOOLS if bad != "required" else [])
        assert info.value.param == "tool_choice"


def test_tool_names_must_be_unique() -> None:
    with pytest.raises(InvalidRequestError) as info:
        normalize_tools(TOOLS * 2)
    assert info.value.param == "tools.1.function.name"
