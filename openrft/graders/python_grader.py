"""``python``: the user's ``grade(sample, item) -> float``, run in warm sandbox processes."""

from __future__ import annotations

import ast
import time
from collections.abc import Sequence
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.graders.fields import check_source_size
from openrft.graders.registry import register_grader
from openrft.graders.sandbox.pool import SandboxPool
from openrft.graders.templating import request_namespaces
from openrft.graders.types import GraderContext, GradeResult, GradingRequest, ValidationContext


def check_function(source: str, name: str, n_args: int, param: str) -> None:
    """Parse ``source`` (never import it) and require a top-level ``def name`` of ``n_args``."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InvalidRequestError(
            f"{param} does not parse: {exc.msg} (line {exc.lineno})", param=param
        ) from exc
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name and _accepts(node.args, n_args):
            return
    raise InvalidRequestError(
        f"{param} must define a function {name}() taking {n_args} positional arguments",
        param=param,
    )


def _accepts(args: ast.arguments, n_args: int) -> bool:
    """True when a call with ``n_args`` positional arguments binds to this signature."""
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    kw_required = any(default is None for default in args.kw_defaults)
    fits = n_args <= positional or args.vararg is not None
    return required <= n_args and fits and not kw_required


def validate_python(spec: dict[str, Any], param: str, ctx: ValidationContext) -> dict[str, Any]:
    source = spec.get("source")
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequestError(f"{param}.source must be Python source", param=f"{param}.source")
    check_source_size(source, f"{param}.source", ctx.limits)
    check_function(source, "grade", 2, f"{param}.source")
    normalized: dict[str, Any] = {"source": source}
    if spec.get("image_tag") is not None:
        normalized["image_tag"] = str(spec["image_tag"])
    return normalized


@register_grader("python", validate=validate_python)
class PythonGrader:
    """Grades through a ``SandboxPool``; any exception or non-float → runtime error, reward 0."""

    type = "python"

    def __init__(self, spec: dict[str, Any], ctx: GraderContext) -> None:
        self.name: str = spec["name"]
        self.pool = SandboxPool(
            source=spec["source"],
            entry="grade",
            kind="grade",
            filename="grader.py",
            limits=ctx.sandbox,
            judge=ctx.judge,
        )

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        start = time.perf_counter()
        calls = [[request_namespaces(r)["sample"], r.item] for r in requests]
        outcomes = await self.pool.run(calls)
        per_item = (time.perf_counter() - start) / max(1, len(requests))
        results = []
        for outcome in outcomes:
            if outcome.ok:
                result = GradeResult(reward=float(outcome.value))
            else:
                result = GradeResult.failed("python_grader_runtime_error", outcome.error)
            result.execution_time = per_item
            result.logs = outcome.logs
            results.append(result)
        return results

    async def aclose(self) -> None:
        await self.pool.aclose()
