"""HTTP tools: POST ``{"name", "arguments"}`` to one URL, read JSON back."""

from __future__ import annotations

import json
from typing import Any

import httpx

from openrft.net.egress import EgressPolicy, body_snippet, unreachable_message
from openrft.tools.toolbox import ToolResult


class HttpTools:
    """The endpoint answers each call with JSON: a string is the result as is, any other value
    its JSON text. A status >= 400, a body that is not JSON or a failed connection is a tool
    error the model reads."""

    def __init__(self, url: str, timeout_s: float, egress: EgressPolicy) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._egress = egress
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> list[dict[str, Any]]:
        self._client = self._egress.async_client(timeout=self.timeout_s)
        return []

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        assert self._client is not None, "start() first"
        try:
            response = await self._client.post(
                self.url, json={"name": name, "arguments": arguments}
            )
        except httpx.HTTPError:
            return ToolResult(f"Error: {unreachable_message(self.url)}", True)
        if response.status_code >= 400:
            return ToolResult(
                f"Error: the tool server answered HTTP {response.status_code}: "
                f"{body_snippet(response.text)}",
                True,
            )
        try:
            value = response.json()
        except ValueError:
            return ToolResult("Error: the tool server's answer is not JSON.", True)
        return ToolResult(
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
