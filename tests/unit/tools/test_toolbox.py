"""Tool providers against real runtimes: the grader sandbox, an HTTP endpoint and an MCP server
on loopback; validation of ``method.reinforcement.tools``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openrft.errors import InvalidRequestError
from openrft.graders.types import SandboxLimits
from openrft.net.egress import EgressPolicy
from openrft.tools import build_toolbox, python_function_tools, validate_tool_providers
from openrft.tools.toolbox import ToolProviderError
from tests.tool_servers import http_tool_server, mcp_server

# The tool servers of these tests listen on loopback: allow-listed, as an operator would.
LOOPBACK = EgressPolicy.parse(["127.0.0.1"])
SOURCE = '''
import time

def lookup(city: str, upper: bool = False) -> str:
    """The secret code of a city.

    More text that is not the description."""
    code = {"oslo": "no-0301"}[city]
    return code.upper() if upper else code

def stats(values: list) -> dict:
    return {"n": len(values), "sum": sum(values)}

def slow(seconds: float):
    time.sleep(seconds)
    return "done"

def _helper():
    return 1
'''


def test_python_tools_are_the_public_top_level_functions() -> None:
    tools = python_function_tools(SOURCE)
    assert [t["function"]["name"] for t in tools] == ["lookup", "stats", "slow"]
    lookup = tools[0]["function"]
    assert lookup["description"] == "The secret code of a city."
    assert lookup["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string"}, "upper": {"type": "boolean"}},
        "required": ["city"],
    }
    assert tools[2]["function"]["parameters"]["properties"] == {"seconds": {"type": "number"}}


async def test_python_calls_run_in_the_sandbox_with_errors_and_timeouts_as_text() -> None:
    providers = [{"type": "python", "source": SOURCE, "timeout_s": 3.0}]
    box = build_toolbox(providers, sandbox=SandboxLimits(workers=2), egress=LOOPBACK)
    await box.start()
    try:
        assert (await box.call("lookup", '{"city": "oslo", "upper": true}')).content == "NO-0301"
        result = await box.call("stats", '{"values": [1, 2, 3]}')
        assert json.loads(result.content) == {"n": 3, "sum": 6} and not result.error
        missing = await box.call("lookup", '{"city": "rome"}')
        assert missing.error and missing.content == "Error: KeyError: 'rome'"
        assert (await box.call("_helper", "{}")).content.startswith("Error: there is no tool")
        assert (await box.call("lookup", "[1]")).error
        slow = await box.call("slow", '{"seconds": 30}')
        assert slow.error and "timed out" in slow.content
        assert (await box.call("lookup", '{"city": "oslo"}')).content == "no-0301"  # recovered
    finally:
        await box.aclose()


async def test_mcp_tools_are_listed_and_called_over_streamable_http() -> None:
    with mcp_server() as (url, calls):
        box = build_toolbox(
            [{"type": "mcp", "url": url, "timeout_s": 20.0}],
            sandbox=SandboxLimits(),
            egress=LOOPBACK,
        )
        await box.start()
        try:
            names = [t["function"]["name"] for t in box.tools]
            assert names == ["lookup", "explode"]
            schema = box.tools[0]["function"]["parameters"]
            assert schema["properties"]["city"]["type"] == "string"
            assert schema["required"] == ["city"]
            assert (await box.call("lookup", '{"city": "Lima"}')).content == "PE-1501"
            failed = await box.call("explode", '{"reason": "boom"}')
            assert failed.error and failed.content.startswith("Error:")
            assert (await box.call("nope", "{}")).error
        finally:
            await box.aclose()
    assert calls == ["Lima"]


async def test_http_tools_serve_every_call_no_other_provider_declares() -> None:
    with http_tool_server() as (url, received):
        providers = [
            {"type": "python", "source": "def echo(x: str):\n    return x\n", "timeout_s": 20.0},
            {"type": "http", "url": url, "timeout_s": 20.0},
        ]
        box = build_toolbox(providers, sandbox=SandboxLimits(workers=1), egress=LOOPBACK)
        await box.start()
        try:
            assert [t["function"]["name"] for t in box.tools] == ["echo"]
            assert (await box.call("echo", '{"x": "hi"}')).content == "hi"
            found = await box.call("lookup", '{"city": "kyiv"}')
            assert json.loads(found.content) == {"code": "UA-0101"}
            refused = await box.call("other", "{}")
            assert refused.error and "HTTP 404" in refused.content
        finally:
            await box.aclose()
    assert received == [
        {"name": "lookup", "arguments": {"city": "kyiv"}},
        {"name": "other", "arguments": {}},
    ]


@pytest.mark.parametrize(
    ("providers", "param"),
    [
        ([], "method.reinforcement.tools"),
        ([{"type": "shell"}], "method.reinforcement.tools.0.type"),
        ([{"type": "python", "source": "x = 1"}], "method.reinforcement.tools.0.source"),
        ([{"type": "python", "source": "def f(:"}], "method.reinforcement.tools.0.source"),
        ([{"type": "http", "url": "ftp://x/y"}], "method.reinforcement.tools.0.url"),
        ([{"type": "mcp", "url": "http://x", "token": "t"}], "method.reinforcement.tools.0.token"),
        (
            [{"type": "mcp", "url": "http://x", "timeout_s": 0}],
            "method.reinforcement.tools.0.timeout_s",
        ),
    ],
)
def test_bad_providers_are_refused_naming_the_field(providers: Any, param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_tool_providers(providers)
    assert info.value.param == param


def test_valid_providers_are_normalized_with_a_default_timeout() -> None:
    providers = validate_tool_providers([{"type": "mcp", "url": "http://127.0.0.1:9/mcp"}])
    assert providers == [{"type": "mcp", "timeout_s": 30.0, "url": "http://127.0.0.1:9/mcp"}]


async def test_tool_servers_outside_the_egress_policy_are_never_reached() -> None:
    with mcp_server() as (mcp_url, calls), http_tool_server() as (http_url, received):
        param = "method.reinforcement.tools.0.url"
        for url in (mcp_url, http_url):
            with pytest.raises(InvalidRequestError) as info:
                validate_tool_providers([{"type": "mcp", "url": url}], egress=EgressPolicy())
            assert info.value.param == param and "egress policy" in info.value.message
        box = build_toolbox(
            [{"type": "http", "url": http_url, "timeout_s": 5.0}],
            sandbox=SandboxLimits(),
            egress=EgressPolicy(),  # public addresses only
        )
        await box.start()
        try:
            denied = await box.call("lookup", '{"city": "oslo"}')
        finally:
            await box.aclose()
        assert denied.error and "egress policy" in denied.content
        mcp_box = build_toolbox(
            [{"type": "mcp", "url": mcp_url, "timeout_s": 5.0}],
            sandbox=SandboxLimits(),
            egress=EgressPolicy(),
        )
        with pytest.raises(ToolProviderError) as failed:  # the job cannot list the tools
            await mcp_box.start()
        assert "egress policy" in failed.value.message
        await mcp_box.aclose()
    assert calls == [] and received == []
