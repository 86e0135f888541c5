"""Function tools as OpenAI's chat API states them: definitions, ``tool_choice`` and calls.

One set of rules for served requests (``tools`` / ``tool_choice`` of chat completions and
responses) and for training rows (a row's ``tools``): a definition is
``{"type": "function", "function": {"name", "description"?, "parameters"?, "strict"?}}`` with
a JSON-schema object as ``parameters``; a call is ``ToolCall(id, name, arguments)`` with the
arguments as the JSON text the model wrote.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import SchemaError
from jsonschema.validators import validator_for

from openrft.errors import InvalidRequestError

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOOLS = 128
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}

ChoiceMode = Literal["none", "auto", "required", "named"]


@dataclass(frozen=True)
class ToolChoice:
    """``mode`` ``none`` (never call), ``auto`` (the model decides), ``required`` (at least one
    call) or ``named`` (exactly a call of ``name``)."""

    mode: ChoiceMode
    name: str | None = None

    @property
    def forces_call(self) -> bool:
        return self.mode in ("required", "named")


@dataclass(frozen=True)
class ToolCall:
    """One call the model made; ``arguments`` is JSON text (an object)."""

    id: str
    name: str
    arguments: str

    def openai(self) -> dict[str, Any]:
        """The chat API shape ``{"id", "type": "function", "function": {"name", "arguments"}}``."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


def new_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


def normalize_tools(tools: Any, *, param: str = "tools") -> list[dict[str, Any]]:
    """Definitions in the chat shape, or InvalidRequestError naming ``param.<i>.<field>``.

    The Responses API's flat ``{"type": "function", "name", "parameters"}`` is accepted too.
    """
    if not isinstance(tools, list):
        raise InvalidRequestError(f"'{param}' must be a list of function tools.", param=param)
    if len(tools) > MAX_TOOLS:
        raise InvalidRequestError(f"'{param}' takes at most {MAX_TOOLS} tools.", param=param)
    normalized = [_tool(tool, f"{param}.{i}") for i, tool in enumerate(tools)]
    names = [t["function"]["name"] for t in normalized]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidRequestError(
                f"Tool name {name!r} is defined twice.", param=f"{param}.{i}.function.name"
            )
    return normalized


def _tool(tool: Any, param: str) -> dict[str, Any]:
    if not isinstance(tool, Mapping) or tool.get("type") != "function":
        raise InvalidRequestError(
            "Only function tools are supported: give {'type': 'function', 'function': {...}}.",
            param=f"{param}.type",
        )
    function = tool.get("function", tool)  # the Responses API puts the fields at the top
    where = f"{param}.function" if "function" in tool else param
    if not isinstance(function, Mapping):
        raise InvalidRequestError("'function' must be an object.", param=where)
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequestError(
            "A function name must be 1-64 letters, digits, '_' or '-'.", param=f"{where}.name"
        )
    out: dict[str, Any] = {"name": name}
    description = function.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise InvalidRequestError(
                "'description' must be a string.", param=f"{where}.description"
            )
        out["description"] = description
    out["parameters"] = _parameters(function.get("parameters"), f"{where}.parameters")
    if function.get("strict") is not None:
        out["strict"] = bool(function["strict"])
    return {"type": "function", "function": out}


def _parameters(schema: Any, param: str) -> dict[str, Any]:
    if schema is None:
        return dict(EMPTY_PARAMETERS)
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        raise InvalidRequestError(
            "'parameters' must be a JSON Schema of type 'object'.", param=param
        )
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequestError(
            f"'parameters' is not a valid JSON Schema: {exc.message}", param=param
        ) from None
    return dict(schema)


def normalize_tool_choice(
    choice: Any, tools: Sequence[Mapping[str, Any]], *, param: str = "tool_choice"
) -> ToolChoice:
    """``None`` → ``auto`` with tools, ``none`` without; a named function must be in ``tools``."""
    if choice is None:
        return ToolChoice("auto" if tools else "none")
    if choice in ("none", "auto", "required"):
        if choice != "none" and not tools:
            raise InvalidRequestError(f"tool_choice {choice!r} needs 'tools'.", param=param)
        return ToolChoice(choice)
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function", choice)
        name = function.get("name") if isinstance(function, Mapping) else None
        known = [t["function"]["name"] for t in tools]
        if name not in known:
            raise InvalidRequestError(
                f"tool_choice names function {name!r}, which is not in 'tools' "
                f"({', '.join(known) or 'none given'}).",
                param=param,
            )
        return ToolChoice("named", name)
    raise InvalidRequestError(
        "tool_choice must be 'none', 'auto', 'required' or "
        "{'type': 'function', 'function': {'name': ...}}.",
        param=param,
    )


def parse_arguments(arguments: Any, *, param: str) -> dict[str, Any]:
    """A call's arguments (JSON text or an object) as a dict, or InvalidRequestError."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    raise InvalidRequestError(
        "Tool call arguments must be a JSON object (as a string).", param=param
    )
