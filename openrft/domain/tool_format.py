"""How tool calls look in a model's text: the Hermes format, native to Qwen2/Qwen3 templates.

A call is ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``; tool results go
back in a user turn as ``<tool_response>\\n...\\n</tool_response>``. A chat template whose
source has ``<tool_call>`` renders tools, calls and results itself; for any other template (or
none) this module's **default format** rewrites the conversation into plain messages first
(``to_default_format``): the tool list in the system message (the Qwen wording), calls in the
assistant's text, results as a user message. Parsing is the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OPEN = "<tool_call>"
CLOSE = "</tool_call>"

_INSTRUCTIONS = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_CALL_HELP = (
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)


@dataclass(frozen=True)
class ParsedCall:
    name: str
    arguments: str  # JSON text of an object


@dataclass(frozen=True)
class ParsedText:
    """``content``: the text outside tool calls (stripped when there are calls)."""

    content: str
    calls: list[ParsedCall] = field(default_factory=list)


def template_renders_tools(chat_template: str | None) -> bool:
    """True when the template prints tools and calls in this format itself (Qwen2/Qwen3)."""
    return bool(chat_template) and OPEN in str(chat_template) and "tools" in str(chat_template)


def tool_instructions(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system-prompt block that lists ``tools`` and tells how to call them."""
    listed = "".join("\n" + json.dumps(tool, ensure_ascii=False) for tool in tools)
    return _INSTRUCTIONS + listed + _CALL_HELP


def render_call(name: str, arguments: Mapping[str, Any]) -> str:
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"{OPEN}\n{body}\n{CLOSE}"


def to_default_format(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, str]]:
    """Normalized messages with tools, calls and results as plain ``{"role", "content"}``.

    The tool list goes at the end of the first system message (one is added when there is
    none); consecutive ``tool`` messages become one user message of ``<tool_response>`` blocks.
    """
    plain: list[dict[str, str]] = []
    results_at: int | None = None  # the user message collecting consecutive tool results
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "tool":
            block = f"<tool_response>\n{content}\n</tool_response>"
            if results_at is None:
                results_at = len(plain)
                plain.append({"role": "user", "content": block})
            else:
                plain[results_at]["content"] += "\n" + block
            continue
        results_at = None
        calls = [
            render_call(c["function"]["name"], c["function"]["arguments"])
            for c in message.get("tool_calls", ())
        ]
        plain.append({"role": role, "content": "\n".join([content] * bool(content) + calls)})
    if tools:
        block = tool_instructions(tools)
        if plain and plain[0]["role"] == "system":
            system = plain[0]["content"]
            plain[0]["content"] = f"{system}\n\n{block}" if system else block
        else:
            plain.insert(0, {"role": "system", "content": block})
    return plain


def parse_tool_calls(text: str) -> ParsedText:
    """Calls in ``text`` and the text around them. A block that is not a JSON object with a
    string ``name`` and object ``arguments`` stays in the content; so does an unclosed one
    that does not parse (a call cut by the token limit)."""
    stream = ToolCallStream()
    content = stream.feed(text) + stream.finish()
    calls = stream.calls
    return ParsedText(content.strip() if calls else content, calls)


def _parse_block(body: str) -> ParsedCall | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ParsedCall(value["name"], json.dumps(arguments, ensure_ascii=False))


class ToolCallStream:
    """Splits streamed text into content and complete calls.

    ``feed(delta)`` returns the content that is safe to show now (text that might still be the
    start of ``<tool_call>`` is held back) and appends each call closed so far to ``calls``;
    ``finish()`` returns the rest. Whitespace between and after calls is not content.
    """

    def __init__(self) -> None:
        self.calls: list[ParsedCall] = []
        self._buffer = ""
        self._in_call = False

    def feed(self, delta: str) -> str:
        self._buffer += delta
        out: list[str] = []
        while True:
            if self._in_call:
                end = self._buffer.find(CLOSE)
                if end < 0:
                    return "".join(out)
                self._close_call(self._buffer[:end], out)
                self._buffer = self._buffer[end + len(CLOSE) :]
                continue
            start = self._buffer.find(OPEN)
            if start < 0:
                keep = _partial_suffix(self._buffer, OPEN)
                out.append(self._content(self._buffer[: len(self._buffer) - keep]))
                self._buffer = self._buffer[len(self._buffer) - keep :]
                return "".join(out)
            out.append(self._content(self._buffer[:start]))
            self._buffer = self._buffer[start + len(OPEN) :]
            self._in_call = True

    def finish(self) -> str:
        """Content not yet returned; an unclosed call is kept when it parses."""
        rest, self._buffer = self._buffer, ""
        if not self._in_call:
            return self._content(rest)
        self._in_call = False
        call = _parse_block(rest)
        if call is not None:
            self.calls.append(call)
            return ""
        return OPEN + rest

    def _close_call(self, body: str, out: list[str]) -> None:
        self._in_call = False
        call = _parse_block(body)
        if call is None:
            out.append(OPEN + body + CLOSE)
        else:
            self.calls.append(call)

    def _content(self, text: str) -> str:
        return text if not self.calls or text.strip() else ""


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
