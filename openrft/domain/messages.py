"""The one rule set that turns chat messages into ``{"role", "content"}`` text for a template.

Training rows, evaluation rows and served requests (chat completions, responses, and model
graders, which call chat completions) all pass through ``normalize_messages`` before
``openrft.inference.tokens.encode_chat`` renders them, so a model is served under exactly the
rendering it was tuned under:

- roles ``system``, ``user``, ``assistant`` as given; ``developer`` becomes ``system`` (most
  open chat templates have no developer role); tool messages and tool calls are refused;
- content is a string, None (empty), or a list of text parts joined without separator; any
  other part (image, audio, file) is refused with the part's index in ``param``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openrft.errors import InvalidRequestError

ROLES = ("system", "developer", "user", "assistant")
TEXT_PART_TYPES = ("text",)


def normalize_messages(
    messages: Sequence[Any], *, param: str = "messages", text_types: Sequence[str] = TEXT_PART_TYPES
) -> list[dict[str, str]]:
    """``messages`` as plain ``{"role", "content"}`` dicts, or InvalidRequestError naming the
    offending ``param`` (``messages.<i>.content.<j>``)."""
    return [
        normalize_message(m, param=f"{param}.{i}", text_types=text_types)
        for i, m in enumerate(messages)
    ]


def normalize_message(
    message: Any, *, param: str, text_types: Sequence[str] = TEXT_PART_TYPES
) -> dict[str, str]:
    """One message under the rules above; ``param`` locates it in the request."""
    if not isinstance(message, Mapping):
        raise InvalidRequestError(
            "A message must be an object with 'role' and 'content'.", param=param
        )
    role = message.get("role")
    if role in ("tool", "function"):
        raise InvalidRequestError("Tool messages are not supported.", param=f"{param}.role")
    if role not in ROLES:
        raise InvalidRequestError(
            f"role must be one of {', '.join(ROLES)}, got {role!r}.", param=f"{param}.role"
        )
    if message.get("tool_calls"):
        raise InvalidRequestError("Tool calls are not supported.", param=f"{param}.tool_calls")
    content = _content_text(message.get("content"), param, text_types)
    return {"role": "system" if role == "developer" else role, "content": content}


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
