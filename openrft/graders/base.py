"""Base for graders that score each request on its own, synchronously (string checks, metrics)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from openrft.graders.templating import MissingVariableError, request_namespaces
from openrft.graders.types import GraderContext, GradeResult, GradingRequest


class PerItemGrader:
    """Subclasses implement ``score(namespaces) -> float``; errors become flagged zero grades.

    ``blocking = True`` moves the batch to a thread so heavy metrics don't stall the event loop.
    """

    type: ClassVar[str]
    blocking: ClassVar[bool] = False

    def __init__(self, spec: dict[str, Any], ctx: GraderContext) -> None:
        self.name: str = spec["name"]
        self.spec = spec
        self.ctx = ctx

    def score(self, namespaces: dict[str, Any]) -> float:
        raise NotImplementedError

    def grade_one(self, request: GradingRequest) -> GradeResult:
        """Score one request; a missing template variable → ``invalid_variable_error``."""
        start = time.perf_counter()
        try:
            result = GradeResult(reward=self.score(request_namespaces(request)))
        except MissingVariableError:
            result = GradeResult.failed("invalid_variable_error")
        result.execution_time = time.perf_counter() - start
        return result

    def grade_all(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        return [self.grade_one(request) for request in requests]

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        if self.blocking:
            return await asyncio.to_thread(self.grade_all, requests)
        return self.grade_all(requests)

    async def aclose(self) -> None:
        return None
