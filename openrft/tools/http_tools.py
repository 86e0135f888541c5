"""HTTP tools: POST ``{"name", "arguments"}`` to one URL, read JSON back."""

from __future__ import annotations

import json
from typing import Any

import httpx

from openrft.tools.toolbox import HttpClientFactory, ToolResult

_SNIPPET = 200


def default_http_client(timeout_s: float) -> httpx.AsyncClient:
    """No proxies from the environment: the request goes where the URL says."""
    return httpx.AsyncClient(timeout=timeout_s, trust_env=False, follow_redirects=False)


class HttpTools:
    """The endpoint answers each call with JSON: a string is the result as is, any other value
    its JSON text. A status >= 400, a body that is not JSON or a failed connection is a tool
    error the model reads."""

    def __init__(self, url: str, timeout_s: float, make_client: HttpClientFactory) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._make_client = make_client
        self._client: Any = None

    async def start(self) -> list[dict[str, Any]]:
        self._client = self._make_client(self.timeout_s)
        return []

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        try:
            response = await self._client.post(
                self.url, json={"name": name, "arguments": arguments}
            )
        except httpx.HTTPError:
            return ToolResult(f"Error: the tool server at {self.url} did not answer.", True)
        if response.status_code >= 400:
            return ToolResult(
                f"Error: the tool server answered HTTP {response.status_code}: "
                f"{response.text[:_SNIPPET]}",
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
