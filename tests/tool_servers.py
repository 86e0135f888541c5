"""Real tool servers on loopback for tests: an MCP server (streamable HTTP, the ``mcp`` SDK's
``MCPServer``) and a plain HTTP tool endpoint, each served by uvicorn in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import free_port

SECRETS = {"oslo": "NO-0301", "lima": "PE-1501", "kyiv": "UA-0101"}


def facts_mcp() -> tuple[MCPServer, list[str]]:
    """An MCP server with a ``lookup`` tool (and a failing one); the list records calls."""
    server = MCPServer("facts")
    calls: list[str] = []

    @server.tool()
    def lookup(city: str) -> str:
        """The secret code of a city."""
        calls.append(city)
        return SECRETS.get(city.lower(), "unknown city")

    @server.tool()
    def explode(reason: str) -> str:
        """Always fails."""
        raise RuntimeError(reason)

    return server, calls


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI ``app`` on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test tool server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def mcp_server() -> Iterator[tuple[str, list[str]]]:
    """(the MCP endpoint URL, the cities ``lookup`` was called with)."""
    server, calls = facts_mcp()
    with serve(server.streamable_http_app()) as base:
        yield f"{base}/mcp", calls


@contextmanager
def http_tool_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP tool endpoint: ``lookup`` answers JSON, anything else HTTP 404."""
    received: list[dict[str, Any]] = []

    async def call(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        if body.get("name") != "lookup":
            return JSONResponse({"error": "unknown tool"}, status_code=404)
        return JSONResponse({"code": SECRETS.get(body["arguments"].get("city", ""), "none")})

    with serve(Starlette(routes=[Route("/tools", call, methods=["POST"])])) as base:
        yield f"{base}/tools", received
