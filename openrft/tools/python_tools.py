"""Python tools: the public top-level functions of a source, run in the grader sandbox."""

from __future__ import annotations

import dataclasses
from typing import Any

from openrft.graders.sandbox.pool import SandboxPool
from openrft.graders.types import SandboxLimits
from openrft.tools.spec import python_function_tools
from openrft.tools.toolbox import ToolResult

# Appended to the user's source: the sandbox calls this entry with (name, arguments); a
# non-string result goes back as JSON text.
_DISPATCH = """

def __openrft_call_tool__(name, arguments):
    import json as __json
    if name not in __openrft_tools__:
        raise LookupError(f"no tool named {name!r}")
    result = globals()[name](**arguments)
    return result if isinstance(result, str) else __json.dumps(result, default=str)

__openrft_tools__ = frozenset(NAMES)
"""


class PythonTools:
    """Calls run in warm sandbox processes (``SandboxPool``, kind ``tool``), as python graders
    do; an exception's last line (``ValueError: ...``) is what the model reads."""

    def __init__(self, source: str, timeout_s: float, limits: SandboxLimits) -> None:
        self.timeout_s = timeout_s
        self.tools = python_function_tools(source)
        names = sorted(t["function"]["name"] for t in self.tools)
        self.pool = SandboxPool(
            source=source + _DISPATCH.replace("NAMES", repr(names)),
            entry="__openrft_call_tool__",
            kind="tool",
            filename="tools.py",
            limits=dataclasses.replace(limits, wall_time_s=timeout_s),
        )

    async def start(self) -> list[dict[str, Any]]:
        return self.tools

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        (outcome,) = await self.pool.run([[name, arguments]])
        if outcome.ok:
            return ToolResult(str(outcome.value))
        return ToolResult(f"Error: {_last_line(outcome.error or 'the tool failed')}", True)

    async def aclose(self) -> None:
        await self.pool.aclose()


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text
