"""A job's tools at run time: the providers' function tools and calls routed to them.

``build_toolbox(providers, ...)`` makes the providers of a validated
``method.reinforcement.tools`` list; ``await toolbox.start()`` asks each for its tools (python:
read from the source; MCP: ``tools/list``; HTTP: none, its tools come from the rows);
``await toolbox.call(name, arguments)`` runs one call with the provider's timeout. A failing,
slow or unknown tool is a ``ToolResult`` with ``error`` set whose text the model reads, never an
exception.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from openrft.errors import OpenRFTError
from openrft.graders.types import SandboxLimits
from openrft.net.egress import EgressPolicy

# Longest tool result the model sees (characters); the rest is cut with a marker.
MAX_RESULT_CHARS = 4000


class ToolProviderError(OpenRFTError):
    """A provider could not start (e.g. its MCP server does not answer): the job fails."""

    default_code = "tool_provider_failed"


@dataclass(frozen=True)
class ToolResult:
    content: str
    error: bool = False


class ToolProvider(Protocol):
    timeout_s: float

    async def start(self) -> list[dict[str, Any]]:
        """Connect (when remote) and return the function tools this provider serves."""
        ...

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult: ...

    async def aclose(self) -> None: ...


class Toolbox:
    """Routes each call to the provider that declared the tool; HTTP providers (which declare
    none) receive the calls no other provider serves, the first one listed first."""

    def __init__(self, providers: Sequence[ToolProvider], catch_all: ToolProvider | None):
        self.providers = list(providers)
        self.catch_all = catch_all
        self.tools: list[dict[str, Any]] = []
        self._routes: dict[str, ToolProvider] = {}

    async def start(self) -> None:
        declared = await asyncio.gather(*(p.start() for p in self.providers))
        for provider, tools in zip(self.providers, declared, strict=True):
            for tool in tools:
                name = tool["function"]["name"]
                if name not in self._routes:
                    self._routes[name] = provider
                    self.tools.append(tool)

    async def call(self, name: str, arguments: str) -> ToolResult:
        """Run one call; ``arguments`` is the JSON text the model wrote."""
        provider = self._routes.get(name, self.catch_all)
        if provider is None:
            known = ", ".join(self._routes) or "none"
            return ToolResult(f"Error: there is no tool named {name!r} (tools: {known}).", True)
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            return ToolResult("Error: the arguments are not a JSON object.", True)
        try:
            result = await asyncio.wait_for(provider.call(name, parsed), provider.timeout_s)
        except TimeoutError:
            return ToolResult(
                f"Error: the tool {name!r} timed out after {provider.timeout_s:g}s.", True
            )
        return _bounded(result)

    async def aclose(self) -> None:
        everyone = [*self.providers, *([self.catch_all] if self.catch_all else [])]
        await asyncio.gather(*(p.aclose() for p in dict.fromkeys(everyone)), return_exceptions=True)


def _bounded(result: ToolResult) -> ToolResult:
    if len(result.content) <= MAX_RESULT_CHARS:
        return result
    cut = len(result.content) - MAX_RESULT_CHARS
    return ToolResult(
        f"{result.content[:MAX_RESULT_CHARS]}\n[... {cut} more characters]", result.error
    )


def build_toolbox(
    providers: Sequence[dict[str, Any]], *, sandbox: SandboxLimits, egress: EgressPolicy
) -> Toolbox:
    """Providers of a validated ``method.reinforcement.tools`` list; HTTP and MCP providers
    connect only where the server's ``egress`` policy allows."""
    from openrft.tools.http_tools import HttpTools
    from openrft.tools.mcp_tools import McpTools
    from openrft.tools.python_tools import PythonTools

    built: list[ToolProvider] = []
    catch_all: ToolProvider | None = None
    for spec in providers:
        timeout = float(spec["timeout_s"])
        if spec["type"] == "python":
            built.append(PythonTools(spec["source"], timeout, sandbox))
        elif spec["type"] == "mcp":
            built.append(McpTools(spec["url"], timeout, egress))
        else:
            http = HttpTools(spec["url"], timeout, egress)
            catch_all = catch_all or http
            built.append(http)
    return Toolbox(built, catch_all)
