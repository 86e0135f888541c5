"""The one rule set that turns chat messages into plain dicts for a chat template.

Training rows, evaluation rows and served requests (chat completions, responses, and model
graders, which call chat completions) all pass through ``normalize_messages`` before
``openrft.inference.tokens.encode_chat`` renders them, so a model is served under exactly the
rendering it was tuned under:

- roles ``system``, ``user``, ``assistant``, ``tool`` as given; ``developer`` becomes ``system``
  (most open chat templates have no developer role); the legacy ``function`` role is refused;
- content is a string, None (empty), or a list of text parts joined without separator; any
  other part (image, audio, file) is refused with the part's index in ``param``;
- an assistant message may carry ``tool_calls`` (function calls); each becomes
  ``{"id", "type": "function", "function": {"name", "arguments": <dict>}}`` (chat templates
  expect the arguments as an object);
- a ``tool`` message answers one of those calls by ``tool_call_id`` and gets the function's
  ``name`` (some templates print it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openrft.domain.tools import parse_arguments
from openrft.errors import InvalidRequestError

ROLES = ("system", "developer", "user", "assistant", "tool")
TEXT_PART_TYPES = ("text",)


def normalize_messages(
    messages: Sequence[Any], *, param: str = "messages", text_types: Sequence[str] = TEXT_PART_TYPES
) -> list[dict[str, Any]]:
    """``messages`` as plain dicts (see the module docstring), or InvalidRequestError naming
    the offending ``param`` (``messages.<i>.content.<j>``)."""
    out: list[dict[str, Any]] = []
    calls: dict[str, str] = {}  # tool call id → function name, of the calls so far
    for i, message in enumerate(messages):
        normalized = normalize_message(message, param=f"{param}.{i}", text_types=text_types)
        for call in normalized.get("tool_calls", ()):
            calls[call["id"]] = call["function"]["name"]
        if normalized["role"] == "tool":
            call_id = normalized["tool_call_id"]
            if call_id not in calls:
                raise InvalidRequestError(
                    f"A 'tool' message must answer a tool call of an earlier assistant message; "
                    f"no call has id {call_id!r}.",
                    param=f"{param}.{i}.tool_call_id",
                )
            normalized["name"] = calls[call_id]
        out.append(normalized)
    return out


def normalize_message(
    message: Any, *, param: str, text_types: Sequence[str] = TEXT_PART_TYPES
) -> dict[str, Any]:
    """One message under the rules above; ``param`` locates it in the request. A tool
    message's ``name`` is filled in by ``normalize_messages``."""
    if not isinstance(message, Mapping):
        raise InvalidRequestError(
            "A message must be an object with 'role' and 'content'.", param=param
        )
    role = message.get("role")
    if role == "function":
        raise InvalidRequestError(
            "The 'function' role is deprecated and not supported; use role 'tool' with a "
            "'tool_call_id'.",
            param=f"{param}.role",
        )
    if role not in ROLES:
        raise InvalidRequestError(
            f"role must be one of {', '.join(ROLES)}, got {role!r}.", param=f"{param}.role"
        )
    content = _content_text(message.get("content"), param, text_types)
    out: dict[str, Any] = {"role": "system" if role == "developer" else role, "content": content}
    tool_calls = message.get("tool_calls")
    if tool_calls:
        if role != "assistant":
            raise InvalidRequestError(
                "Only assistant messages carry 'tool_calls'.", param=f"{param}.tool_calls"
            )
        out["tool_calls"] = _tool_calls(tool_calls, f"{param}.tool_calls")
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequestError(
                "A 'tool' message needs the 'tool_call_id' of the call it answers.",
                param=f"{param}.tool_call_id",
            )
        out["tool_call_id"] = call_id
    return out


def _tool_calls(calls: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise InvalidRequestError("'tool_calls' must be a list.", param=param)
    out = []
    for j, call in enumerate(calls):
        where = f"{param}.{j}"
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or call.get("type", "function") != "function":
            raise InvalidRequestError(
                "A tool call must be {'id', 'type': 'function', 'function': {'name', "
                "'arguments'}}.",
                param=where,
            )
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(
                "A tool call needs a function name.", param=f"{where}.function.name"
            )
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequestError("A tool call needs an 'id'.", param=f"{where}.id")
        arguments = parse_arguments(function.get("arguments"), param=f"{where}.function.arguments")
        out.append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        )
    return out


def _content_text(content: Any, param: str, text_types: Sequence[str]) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise InvalidRequestError(
            "Message content must be a string or a list of text parts.", param=f"{param}.content"
        )
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
        if kind not in text_types or not isinstance(part.get("text"), str):
            raise InvalidRequestError(
                f"Content part type '{kind}' is not supported; only text parts are.",
                param=f"{param}.content.{j}",
            )
        texts.append(part["text"])
    return "".join(texts)
