"""``{{ item.x }}`` / ``{{sample.output_json.a[0].b}}`` substitution in grader strings.

Namespaces are ``item`` (the dataset row) and ``sample`` (``output_text``, ``output_json`` when
the output is a JSON object or array, ``output_tools``, ``choices``, and ``messages`` for
multi-turn tool rollouts). A missing variable raises
``MissingVariableError``; the grader turns it into ``invalid_variable_error`` with score 0.

Tags are found by a single left-to-right scan (``str.find``), linear in the template's length
even on a flood of ``{{``. A template and a rendered string are capped (``GraderLimits``: the
settings ``max_template_chars`` and ``max_render_chars``); a render over the cap is an
``invalid_variable_error`` too.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from openrft.domain.grader_limits import DEFAULT_GRADER_LIMITS, setting_hint
from openrft.errors import InvalidRequestError

NAMESPACES = ("item", "sample")
_SEGMENT = re.compile(r"\.([^.\[\]\s{}]+)|\[(\d+)\]")
_ROOT = re.compile(r"[A-Za-z_]\w*")

PathSegment = str | int


class MissingVariableError(LookupError):
    """A template referenced a variable that the item or sample does not have."""


class RenderTooLargeError(MissingVariableError):
    """The rendered string would be longer than the render cap."""


def scan(template: str) -> Iterator[tuple[str, str | None]]:
    """``(literal, expression)`` pieces in order; the last piece's expression may be None.

    An opening ``{{`` with no ``}}`` after it ends the scan: the rest is literal text.
    Each character is looked at a bounded number of times.
    """
    pos = 0
    while True:
        start = template.find("{{", pos)
        end = template.find("}}", start + 2) if start >= 0 else -1
        if end < 0:
            yield template[pos:], None
            return
        yield template[pos:start], template[start + 2 : end]
        pos = end + 2


@functools.lru_cache(maxsize=4096)
def parse_variable(expression: str) -> tuple[str, tuple[PathSegment, ...]]:
    """``"item.a[0].b"`` → ``("item", ("a", 0, "b"))``; ValueError on bad syntax."""
    text = expression.strip()
    root = _ROOT.match(text)
    if root is None or root.group(0) not in NAMESPACES:
        raise ValueError(f"unknown namespace in {{{{{text}}}}}; use item.* or sample.*")
    segments: list[PathSegment] = []
    pos = root.end()
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if match is None:
            raise ValueError(f"bad variable path {{{{{text}}}}} at position {pos}")
        key, index = match.groups()
        segments.append(int(index) if index is not None else key)
        pos = match.end()
    return root.group(0), tuple(segments)


def validate_template(
    template: str, param: str, max_chars: int = DEFAULT_GRADER_LIMITS.template_chars
) -> None:
    """Raise InvalidRequestError(param=param) if any ``{{...}}`` is not a valid variable or the
    template is longer than ``max_chars``."""
    if not isinstance(template, str):
        raise InvalidRequestError(f"{param} must be a string", param=param)
    if len(template) > max_chars:
        raise InvalidRequestError(
            f"{param} is {len(template)} characters; templates are limited to {max_chars} "
            f"on this server ({setting_hint('template_chars')}).",
            param=param,
            code="template_too_large",
        )
    for literal, expression in scan(template):
        if expression is None:
            if "{{" in literal:
                raise InvalidRequestError(f"Unclosed '{{{{' in {param}", param=param)
            break
        try:
            parse_variable(expression)
        except ValueError as exc:
            raise InvalidRequestError(f"Invalid template in {param}: {exc}", param=param) from exc


def lookup(namespaces: dict[str, Any], expression: str) -> Any:
    """The value at a variable path; MissingVariableError when any step is absent."""
    root, segments = parse_variable(expression)
    value = namespaces.get(root)
    for segment in segments:
        if isinstance(segment, int) and isinstance(value, list) and segment < len(value):
            value = value[segment]
            continue
        if isinstance(segment, str) and isinstance(value, dict) and segment in value:
            value = value[segment]
            continue
        raise MissingVariableError(f"{{{{{expression.strip()}}}}} is not defined")
    return value


def to_text(value: Any) -> str:
    """Strings as they are; anything else as compact JSON (``42``, ``true``, ``{"a": 1}``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def render_template(
    template: str,
    namespaces: dict[str, Any],
    max_chars: int = DEFAULT_GRADER_LIMITS.render_chars,
) -> str:
    """Substitute every ``{{...}}`` in ``template``; raises MissingVariableError.

    Raises RenderTooLargeError as soon as the output passes ``max_chars``.
    """
    parts: list[str] = []
    size = 0
    for literal, expression in scan(template):
        parts.append(literal)
        size += len(literal)
        if expression is not None:
            value = to_text(lookup(namespaces, expression))
            parts.append(value)
            size += len(value)
        if size > max_chars:
            raise RenderTooLargeError(
                f"rendered template is over {max_chars} characters ({setting_hint('render_chars')})"
            )
    return "".join(parts)


def build_sample(
    output_text: str,
    *,
    prompt: list[dict[str, Any]] | None = None,
    output_messages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``sample`` namespace of a completion.

    With ``output_messages`` (a multi-turn tool rollout): ``output_tools`` lists every tool
    call of every turn (chat shape), ``choices[0].message`` is the last assistant turn (with
    its ``tool_calls`` when it ended on calls), and ``messages`` the whole conversation
    (``prompt`` + ``output_messages``).
    """
    turns = [m for m in output_messages or [] if m.get("role") == "assistant"]
    last_calls = turns[-1].get("tool_calls", []) if turns else []
    message: dict[str, Any] = {"role": "assistant", "content": output_text}
    if last_calls:
        message["tool_calls"] = last_calls
    sample: dict[str, Any] = {
        "output_text": output_text,
        "output_tools": [call for turn in turns for call in turn.get("tool_calls", [])],
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if last_calls else "stop",
            }
        ],
    }
    if output_messages is not None:
        sample["messages"] = [*(prompt or []), *output_messages]
    # Only a JSON object or array is structured output; skip the parse for plain text.
    if output_text.lstrip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            sample["output_json"] = json.loads(output_text)
    return sample


def namespaces_for(
    output_text: str,
    item: dict[str, Any],
    *,
    prompt: list[dict[str, Any]] | None = None,
    output_messages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``{"item": item, "sample": build_sample(...)}``."""
    sample = build_sample(output_text, prompt=prompt, output_messages=output_messages)
    return {"item": item, "sample": sample}


def request_namespaces(request: Any) -> dict[str, Any]:
    """The namespaces of a ``GradingRequest`` (its trajectory included)."""
    return namespaces_for(
        request.output_text,
        request.item,
        prompt=request.messages,
        output_messages=request.output_messages,
    )
