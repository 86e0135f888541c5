"""A job's tools for its worker: providers started for the run, rows given their tool list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from openrft.domain.jobs import JobSpec
from openrft.graders.types import GraderContext
from openrft.tools import Toolbox, build_toolbox
from openrft.training.data import Row
from openrft.training.rollout import Sampler
from openrft.training.tool_rollout import ToolRollouts


@asynccontextmanager
async def job_tools(
    spec: JobSpec, rows: Sequence[Row], runtime: Any, ctx: GraderContext
) -> AsyncIterator[Toolbox | None]:
    """The started toolbox of ``spec.tools`` (None without providers), closed on exit: python
    tools in the graders' sandbox, HTTP and MCP through the graders' egress policy.

    Rows that define no ``tools`` get the providers' (python functions, MCP ``tools/list``),
    so every prompt lists the tools its rollouts can call.
    """
    if not spec.tools:
        yield None
        return
    toolbox = build_toolbox(spec.tools, sandbox=ctx.sandbox, egress=ctx.egress)
    try:
        await toolbox.start()
        for row in rows:
            if not row.get("tools") and toolbox.tools:
                row["tools"] = toolbox.tools
        names = ", ".join(t["function"]["name"] for t in toolbox.tools) or "none declared"
        runtime.add_event(
            spec.id,
            f"Tools ready: {len(spec.tools)} provider(s); functions: {names}.",
        )
        yield toolbox
    finally:
        await toolbox.aclose()


def tool_rollouts(
    sampler: Sampler, tokenizer: Any, toolbox: Toolbox | None, rows: Sequence[Row], max_turns: int
) -> ToolRollouts | None:
    """Multi-turn rollouts when the job runs tools or its rows define some; else None."""
    if toolbox is None and not any(row.get("tools") for row in rows):
        return None
    return ToolRollouts(sampler, tokenizer, toolbox, max_turns=max_turns)
