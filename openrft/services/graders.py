"""Run and validate graders for ``/v1/fine_tuning/alpha/graders``."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openrft.graders import (
    GraderContext,
    GradeResult,
    GradingFailedError,
    GradingRequest,
    build_grader,
    validate_grader,
)
from openrft.graders.base import PerItemGrader
from openrft.graders.types import JudgeAccess, SandboxLimits, ValidationContext
from openrft.net.egress import EgressPolicy
from openrft.protocol.graders import RunGraderErrors, RunGraderMetadata, RunGraderResponse
from openrft.settings import Settings


def sandbox_limits(settings: Settings) -> SandboxLimits:
    """The operator's sandbox mode, with the data dir hidden from modes that show the host's
    file system."""
    return SandboxLimits(
        isolation=settings.sandbox_isolation, hidden=(str(settings.data_dir.resolve()),)
    )


@dataclass(frozen=True)
class GraderService:
    """``sources(project)`` says what a caller's grader may name (handler files, uploads, URLs);
    ``ctx`` configures the graders ``run`` builds."""

    ctx: GraderContext
    sources: Callable[[str], ValidationContext]

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        sources: Callable[[str], ValidationContext],
        egress: EgressPolicy,
    ) -> GraderService:
        """Model graders call this server's own ``/v1`` with the caller's key."""
        ctx = GraderContext(
            chat_base_url=settings.self_base_url,
            sandbox=sandbox_limits(settings),
            egress=egress,
            limits=settings.grader_limits,
        )
        return cls(ctx=ctx, sources=sources)

    def validate(self, grader: dict[str, Any], project: str) -> dict[str, Any]:
        """Raise InvalidRequestError (param ``grader.<field>``) or return the grader as given."""
        self.validate_spec(grader, project)
        return grader

    def validate_spec(self, grader: dict[str, Any], project: str) -> dict[str, Any]:
        """The normalized spec (see ``validate_grader``)."""
        return validate_grader(grader, param="grader", ctx=self.sources(project))

    async def run(
        self,
        grader: dict[str, Any],
        model_sample: str,
        item: dict[str, Any] | None,
        *,
        project: str,
        api_key: str | None = None,
    ) -> RunGraderResponse:
        """Grade one sample for ``project``; grading failures are reported in
        ``metadata.errors``.

        ``api_key``: the caller's key, which model graders send back to this server.
        """
        # Validation may connect to a Lambda URL: keep it off the event loop.
        spec = await asyncio.to_thread(self.validate_spec, grader, project)
        row = item or {}
        messages = list(row.get("messages") or [])
        request = GradingRequest("sample-0", messages, model_sample, row)
        start = time.perf_counter()
        ctx = dataclasses.replace(self.ctx, api_key=api_key or self.ctx.api_key)
        knows_model = self.sources(project).knows_model
        if knows_model is not None:
            judge = JudgeAccess(ctx.chat_base_url, ctx.api_key, knows_model)
            ctx = dataclasses.replace(ctx, judge=judge)
        built = build_grader(spec, ctx)
        failure: str | None = None
        try:
            # Templates render in a thread: a big render never holds the event loop.
            if isinstance(built, PerItemGrader):
                [result] = await asyncio.to_thread(built.grade_all, [request])
            else:
                [result] = await built.grade([request])
        except GradingFailedError as exc:
            # /run reports in the response what would fail a training step, and why.
            result = GradeResult.failed("unresponsive_reward_error", logs=exc.logs)
            failure = exc.message
        finally:
            await built.aclose()
        return to_response(spec, result, time.perf_counter() - start, failure)


def to_response(
    spec: dict[str, Any], result: GradeResult, elapsed_s: float, failure: str | None = None
) -> RunGraderResponse:
    """A GradeResult as the full RunGraderResponse (``failure``: why a Lambda call failed)."""
    models = list(result.token_usage_per_model)
    metadata = RunGraderMetadata(
        name=spec["name"],
        type=spec["type"],
        errors=RunGraderErrors(**result.errors),
        execution_time=elapsed_s,
        scores=dict(result.metrics),
        token_usage=result.token_usage,
        sampled_model_name=models[0] if len(models) == 1 else None,
        logs=result.logs or None,
        error_details=failure,
    )
    return RunGraderResponse(
        reward=result.reward,
        metadata=metadata,
        sub_rewards=dict(result.sub_rewards),
        model_grader_token_usage_per_model=dict(result.token_usage_per_model),
    )
