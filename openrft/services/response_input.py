"""Responses API input items → normalized chat messages.

``message`` items become messages (text parts only); consecutive ``function_call`` items
become one assistant message with ``tool_calls``; a ``function_call_output`` becomes the
``tool`` message that answers its ``call_id``. Then the chat rules apply
(``normalize_messages``), so a conversation renders the same through both APIs.
"""

from __future__ import annotations

from typing import Any

from openrft.domain.messages import normalize_message, normalize_messages
from openrft.errors import InvalidRequestError

TEXT_PART_TYPES = ("input_text", "output_text", "text")


def input_messages(instructions: str | None, items: str | list[Any]) -> list[dict[str, Any]]:
    """``instructions`` as a system message, then ``items`` (a string is one user message)."""
    messages: list[dict[str, Any]] = (
        [{"role": "system", "content": instructions}] if instructions else []
    )
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    else:
        for index, item in enumerate(items):
            _add_item(messages, index, item)
    if not messages:
        raise InvalidRequestError("'input' must not be empty.", param="input")
    return normalize_messages(messages, param="input", text_types=TEXT_PART_TYPES)


def _add_item(messages: list[dict[str, Any]], index: int, item: Any) -> None:
    param = f"input.{index}"
    kind = item.get("type", "message") if isinstance(item, dict) else None
    if kind == "message":
        if not isinstance(item.get("content"), str | list):
            raise InvalidRequestError(
                "Message content must be a string or text parts.", param=param
            )
        messages.append(normalize_message(item, param=param, text_types=TEXT_PART_TYPES))
    elif kind == "function_call":
        call = {
            "id": _text(item, "call_id", param),
            "type": "function",
            "function": {"name": _text(item, "name", param), "arguments": item.get("arguments")},
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant" and last.get("tool_calls"):
            last["tool_calls"].append(call)
        else:
            messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
    elif kind == "function_call_output":
        output = item.get("output")
        if not isinstance(output, str | list):
            raise InvalidRequestError(
                "'output' must be a string or text parts.", param=f"{param}.output"
            )
        content = output if isinstance(output, str) else _joined_text(output, param)
        messages.append(
            {"role": "tool", "tool_call_id": _text(item, "call_id", param), "content": content}
        )
    else:
        raise InvalidRequestError(
            "Input items must be messages, function_call or function_call_output items.",
            param=param,
        )


def _text(item: dict[str, Any], key: str, param: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"'{key}' must be a non-empty string.", param=f"{param}.{key}")
    return value


def _joined_text(parts: list[Any], param: str) -> str:
    message = {"role": "tool", "tool_call_id": "-", "content": parts}
    return str(normalize_message(message, param=param, text_types=TEXT_PART_TYPES)["content"])
