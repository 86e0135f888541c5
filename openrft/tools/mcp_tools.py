"""MCP tools: an MCP server over streamable HTTP, through the ``mcp`` SDK's client."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from openrft.net.egress import EgressPolicy, unreachable_message
from openrft.net.httpx2_egress import httpx2_client
from openrft.tools.toolbox import ToolProviderError, ToolResult

log = logging.getLogger(__name__)


class McpTools:
    """One client session for the job, through the egress policy: ``tools/list`` at start (its
    tools and their input schemas are what the model sees), ``tools/call`` per call. A
    result's text blocks are joined; an ``isError`` result or a failed request is a tool error
    the model reads."""

    def __init__(self, url: str, timeout_s: float, egress: EgressPolicy) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._egress = egress
        self._stack = contextlib.AsyncExitStack()
        self._client: Client | None = None

    async def start(self) -> list[dict[str, Any]]:
        try:
            return await self._connect_and_list()
        except Exception as exc:  # unreachable, denied, not an MCP server: one message
            log.warning("MCP server %s failed at start: %r", self.url, exc)
            raise ToolProviderError(
                f"The MCP tool server failed to list its tools: {unreachable_message(self.url)}",
                param="method.reinforcement.tools",
            ) from None

    async def _connect_and_list(self) -> list[dict[str, Any]]:
        http = await self._stack.enter_async_context(httpx2_client(self._egress, self.timeout_s))
        transport = streamable_http_client(self.url, http_client=http)
        client = Client(transport, read_timeout_seconds=self.timeout_s)
        self._client = await self._stack.enter_async_context(client)
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            tools += [_function_tool(tool) for tool in page.tools]
            cursor = page.next_cursor
            if cursor is None:
                return tools

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        assert self._client is not None, "start() first"
        try:
            result = await self._client.call_tool(name, arguments)
        except Exception as exc:  # a protocol or connection failure is the model's to read
            return ToolResult(f"Error: the MCP server failed the call: {exc}", True)
        texts = [block.text for block in result.content if isinstance(block, TextContent)]
        if not texts and result.structured_content is not None:
            texts = [json.dumps(result.structured_content, ensure_ascii=False)]
        content = "\n".join(texts)
        if result.is_error:
            return ToolResult(f"Error: {content or 'the tool failed'}", True)
        return ToolResult(content)

    async def aclose(self) -> None:
        self._client = None
        await self._stack.aclose()


def _function_tool(tool: Any) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    schema = dict(tool.input_schema or {"type": "object", "properties": {}})
    schema.pop("title", None)
    function["parameters"] = schema
    return {"type": "function", "function": function}
