"""``multi``: named sub-graders combined by a ``calculate_output`` formula."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.graders.fields import require_str
from openrft.graders.formula import FormulaError, parse_formula
from openrft.graders.registry import build_spec, register_grader, validate_spec
from openrft.graders.types import (
    GraderContext,
    GradeResult,
    GradingRequest,
    ValidationContext,
    empty_errors,
    merge_errors,
)


def validate_multi(spec: dict[str, Any], param: str, ctx: ValidationContext) -> dict[str, Any]:
    graders = spec.get("graders")
    if not isinstance(graders, dict) or not graders:
        raise InvalidRequestError(
            f"{param}.graders must be a non-empty map from name to grader",
            param=f"{param}.graders",
        )
    normalized = {
        str(key): validate_spec(sub, param=f"{param}.graders.{key}", ctx=ctx, top_level=False)
        for key, sub in graders.items()
    }
    formula = require_str(spec, "calculate_output", param)
    try:
        parse_formula(formula, set(normalized))
    except FormulaError as exc:
        raise InvalidRequestError(
            f"Invalid calculate_output: {exc}", param=f"{param}.calculate_output"
        ) from exc
    return {"graders": normalized, "calculate_output": formula}


@register_grader("multi", validate=validate_multi, in_multi=False)
class MultiGrader:
    """Grades every request with each sub-grader concurrently, then applies the formula."""

    type = "multi"

    def __init__(self, spec: dict[str, Any], ctx: GraderContext) -> None:
        self.name: str = spec["name"]
        self.formula = parse_formula(spec["calculate_output"], set(spec["graders"]))
        self.graders = {key: build_spec(sub, ctx) for key, sub in spec["graders"].items()}

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        start = time.perf_counter()
        per_grader = await asyncio.gather(*(g.grade(requests) for g in self.graders.values()))
        by_name = dict(zip(self.graders, per_grader, strict=True))
        elapsed = time.perf_counter() - start
        return [
            self._combine({key: results[i] for key, results in by_name.items()}, elapsed)
            for i in range(len(requests))
        ]

    def _combine(self, subs: dict[str, GradeResult], elapsed: float) -> GradeResult:
        """One request's sub-results → the combined result (``execution_time``: whole batch)."""
        errors = empty_errors()
        metrics: dict[str, float] = {}
        usage_per_model: dict[str, dict[str, int]] = {}
        for key, sub in subs.items():
            merge_errors(errors, sub.errors)
            metrics[key] = sub.reward
            metrics.update({f"{key}/{name}": value for name, value in sub.metrics.items()})
            for model, usage in sub.token_usage_per_model.items():
                usage_per_model[model] = add_usage(usage_per_model.get(model), usage)
        sub_rewards = {key: sub.reward for key, sub in subs.items()}
        try:
            reward = self.formula.evaluate(sub_rewards)
        except FormulaError:
            reward = 0.0
            errors["formula_parse_error"] = True
        token_usage = None
        for usage in usage_per_model.values():
            token_usage = add_usage(token_usage, usage)
        return GradeResult(
            reward=reward,
            errors=errors,
            sub_rewards=sub_rewards,
            metrics=metrics,
            execution_time=elapsed,
            token_usage=token_usage,
            token_usage_per_model=usage_per_model,
            logs="".join(f"[{key}]\n{sub.logs}" for key, sub in subs.items() if sub.logs),
        )

    async def aclose(self) -> None:
        await asyncio.gather(*(g.aclose() for g in self.graders.values()))


def add_usage(total: dict[str, int] | None, usage: dict[str, int]) -> dict[str, int]:
    """Key-wise sum of two token-usage dicts."""
    result = dict(total or {})
    for key, value in usage.items():
        result[key] = result.get(key, 0) + value
    return result
