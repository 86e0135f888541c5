"""``method.reinforcement.tools``: validation, and the function tools a python source defines.

A provider is ``{"type": "python", "source": "..."}`` (each public top-level function is a
tool), ``{"type": "http", "url": "..."}`` (POST ``{"name", "arguments"}``, JSON back) or
``{"type": "mcp", "url": "..."}`` (an MCP server over streamable HTTP). Each may set
``timeout_s`` (per call; default 30, at most 300).
"""

from __future__ import annotations

import ast
from typing import Any
from urllib.parse import urlsplit

from openrft.errors import InvalidRequestError
from openrft.graders.lambda_spec import check_reachable
from openrft.net.egress import EgressPolicy

PROVIDER_TYPES = ("python", "http", "mcp")
MAX_PROVIDERS = 8
MAX_SOURCE_BYTES = 256 * 1024
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 300.0
PARAM = "method.reinforcement.tools"

# Python annotations → JSON schema types of a parameter.
_JSON_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}


def validate_tool_providers(
    providers: Any, *, egress: EgressPolicy | None = None, param: str = PARAM
) -> list[dict[str, Any]]:
    """The normalized provider list to store, or InvalidRequestError naming ``param.<i>.<key>``.

    With ``egress``, an HTTP or MCP URL must be reachable through it now (the Lambda URL rule:
    one message for refused, timed out and not allowed)."""
    if not isinstance(providers, list) or not providers:
        raise InvalidRequestError(
            f"'{param}' must be a non-empty list of tool providers "
            '({"type": "python", "source"}, {"type": "http", "url"} or {"type": "mcp", "url"}).',
            param=param,
        )
    if len(providers) > MAX_PROVIDERS:
        raise InvalidRequestError(
            f"'{param}' takes at most {MAX_PROVIDERS} providers.", param=param
        )
    normalized = [_provider(p, f"{param}.{i}") for i, p in enumerate(providers)]
    if egress is not None:
        for i, provider in enumerate(normalized):
            if "url" in provider:
                check_reachable(provider["url"], egress, f"{param}.{i}.url")
    return normalized


def _provider(spec: Any, param: str) -> dict[str, Any]:
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind not in PROVIDER_TYPES:
        raise InvalidRequestError(
            f"A tool provider's type must be one of {', '.join(PROVIDER_TYPES)}.",
            param=f"{param}.type",
        )
    allowed = {"type", "timeout_s", "source" if kind == "python" else "url"}
    for key in spec:
        if key not in allowed:
            raise InvalidRequestError(
                f"Unknown field '{key}' for a {kind} tool provider; allowed: "
                f"{', '.join(sorted(allowed))}.",
                param=f"{param}.{key}",
            )
    out: dict[str, Any] = {"type": kind, "timeout_s": _timeout(spec.get("timeout_s"), param)}
    if kind == "python":
        out["source"] = _source(spec.get("source"), f"{param}.source")
    else:
        out["url"] = _url(spec.get("url"), f"{param}.url")
    return out


def _timeout(value: Any, param: str) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_TIMEOUT_S
    ):
        raise InvalidRequestError(
            f"timeout_s must be a number of seconds in (0, {MAX_TIMEOUT_S:g}].",
            param=f"{param}.timeout_s",
        )
    return float(value)


def _source(source: Any, param: str) -> str:
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequestError("'source' must be Python source.", param=param)
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise InvalidRequestError("'source' is larger than 256 kB.", param=param)
    if not python_function_tools(source, param=param):
        raise InvalidRequestError(
            "'source' defines no tool: write at least one public top-level function "
            "(its name is the tool's name, its docstring the description).",
            param=param,
        )
    return source


def _url(url: Any, param: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError("'url' must be an http:// or https:// URL.", param=param)
    return str(url)


def python_function_tools(source: str, *, param: str = "source") -> list[dict[str, Any]]:
    """Function tools (chat shape) of ``source``'s public top-level functions, read from its
    syntax tree (the code is never imported here): parameters from the signature, types from
    simple annotations (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InvalidRequestError(
            f"'source' does not parse: {exc.msg} (line {exc.lineno}).", param=param
        ) from exc
    return [
        _function_tool(node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
    ]


def _function_tool(node: ast.FunctionDef) -> dict[str, Any]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    optional = {a.arg for a in positional[len(positional) - len(args.defaults) :]}
    optional |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d}
    properties = {a.arg: _json_type(a.annotation) for a in [*positional, *args.kwonlyargs]}
    function: dict[str, Any] = {"name": node.name}
    doc = ast.get_docstring(node)
    if doc:
        function["description"] = doc.strip().split("\n\n")[0]
    function["parameters"] = {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }
    return {"type": "function", "function": function}


def _json_type(annotation: ast.expr | None) -> dict[str, Any]:
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    name = annotation.id if isinstance(annotation, ast.Name) else None
    return {"type": _JSON_TYPES[name]} if name in _JSON_TYPES else {}
