"""Structured output requests: OpenAI's ``response_format`` (chat) and ``text.format`` (responses).

Both become one ``OutputFormat``: free text, any JSON object, or JSON following a schema. The
decoder enforces it token by token (``openrft.inference.grammar``), so the answer always parses
unless it runs out of tokens. Shapes accepted, as in OpenAI's API:

- chat: ``{"type": "text"}``, ``{"type": "json_object"}``,
  ``{"type": "json_schema", "json_schema": {"name", "description"?, "schema"?, "strict"?}}``;
- responses: the same, with the ``json_schema`` fields flattened into the format object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from openrft.errors import InvalidRequestError

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Any JSON object: what ``json_object`` promises, and a ``json_schema`` without a schema.
ANY_OBJECT: dict[str, Any] = {"type": "object"}


@dataclass(frozen=True)
class OutputFormat:
    """``kind`` "text" (no constraint) or "json" with the JSON ``schema`` the output follows;
    ``param`` names the request field a 400 about the schema points at."""

    kind: Literal["text", "json"]
    schema: dict[str, Any] | None = None
    param: str | None = None

    @property
    def constrained(self) -> bool:
        return self.kind == "json"


TEXT = OutputFormat("text")


def chat_output_format(value: Any, param: str = "response_format") -> OutputFormat:
    """Chat completions' ``response_format``; a 400 naming the field for anything else."""
    if value is None:
        return TEXT
    kind = _kind(value, param)
    if kind != "json_schema":
        return _simple(kind, param)
    spec = value.get("json_schema")
    if not isinstance(spec, dict):
        raise InvalidRequestError(
            f"'{param}.json_schema' must be an object with 'name' and 'schema'.",
            param=f"{param}.json_schema",
        )
    return _schema_format(spec, f"{param}.json_schema")


def responses_output_format(value: Any, param: str = "text.format") -> OutputFormat:
    """The Responses API's ``text.format`` (json_schema fields at the top level)."""
    if value is None:
        return TEXT
    kind = _kind(value, param)
    if kind != "json_schema":
        return _simple(kind, param)
    return _schema_format(value, param)


def _kind(value: Any, param: str) -> str:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidRequestError(
            f"Invalid '{param}.type' {kind!r}: use 'text', 'json_object' or 'json_schema'.",
            param=f"{param}.type",
        )
    return str(kind)


def _simple(kind: str, param: str) -> OutputFormat:
    return TEXT if kind == "text" else OutputFormat("json", ANY_OBJECT, param)


def _schema_format(spec: dict[str, Any], param: str) -> OutputFormat:
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequestError(
            f"'{param}.name' must be 1-64 letters, digits, '_' or '-'.", param=f"{param}.name"
        )
    schema = spec.get("schema")
    if schema is None:
        return OutputFormat("json", ANY_OBJECT, param)
    if not isinstance(schema, dict):
        raise InvalidRequestError(
            f"'{param}.schema' must be a JSON Schema object.", param=f"{param}.schema"
        )
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise InvalidRequestError(f"'{param}.strict' must be a boolean.", param=f"{param}.strict")
    return OutputFormat("json", schema, f"{param}.schema")
