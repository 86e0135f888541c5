"""``lambda``: a Bedrock reward function called with batches of Bedrock events.

Event item: ``{"id", "messages": [...prompt..., {"role": "assistant", "content": output}],
"metadata": {<row fields except messages>}, "reference_answer": {"text": ...}}`` (see
``build_event``);
for a multi-turn tool rollout ``messages`` is the whole conversation: the prompt, each assistant
turn with its ``tool_calls``, each ``tool`` result, the final answer.
Answer: ``[{"id", "aggregate_reward_score": float, "metrics_list": [{"name", "value", "type"}]}]``.
Batches run ``concurrency`` at a time; each is retried ``max_retries`` times with exponential
backoff on 5xx, timeouts and garbage. An item missing from the answer or with a non-numeric
score is an error for that item only; a batch that fails every attempt raises
``GradingFailedError``: the trainer counts every sample of it as an error, never a zero.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any

from openrft.graders.lambda_spec import function_kind, validate_lambda
from openrft.graders.lambda_transport import (
    AwsTransport,
    HttpTransport,
    Invocation,
    PermanentError,
    SandboxTransport,
    TransientError,
    Transport,
)
from openrft.graders.registry import register_grader
from openrft.graders.types import GraderContext, GradeResult, GradingFailedError, GradingRequest


def build_event(request: GradingRequest) -> dict[str, Any]:
    """One Bedrock trajectory for ``request`` (the shape is documented in docs/bedrock.md).

    ``metadata`` holds the row's fields except ``messages`` as they are; a row field named
    ``metadata`` that is an object is merged into it (its keys under the other fields), not
    nested. ``reference_answer`` is also given at the top level, a string as
    ``{"text": <string>}`` (what the Bedrock samples' handlers read); a row without one has no
    such key anywhere.
    """
    item = request.item
    extra = {key: value for key, value in item.items() if key != "messages"}
    nested = extra.get("metadata")
    if isinstance(nested, dict):
        del extra["metadata"]
        extra = nested | extra
    output = request.output_messages or [{"role": "assistant", "content": request.output_text}]
    event: dict[str, Any] = {
        "id": request.id,
        "messages": [*request.messages, *output],
        "metadata": extra,
    }
    if item.get("reference_answer") is not None:
        reference = item["reference_answer"]
        event["reference_answer"] = {"text": reference} if isinstance(reference, str) else reference
    return event


def answers_by_id(answer: Any, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Index a Lambda answer by id; TransientError if it is not a list naming any of ``ids``."""
    if not isinstance(answer, list):
        raise TransientError(f"the answer is a {type(answer).__name__}, not a list")
    found = {
        str(entry["id"]): entry
        for entry in answer
        if isinstance(entry, dict) and str(entry.get("id")) in ids
    }
    if ids and not found:
        raise TransientError("the answer names none of the batch's ids")
    return found


def result_from_entry(entry: dict[str, Any] | None) -> GradeResult:
    """An answer entry → GradeResult; missing or malformed entries are per-item errors."""
    if entry is None:
        return GradeResult.failed("unresponsive_reward_error")
    score = entry.get("aggregate_reward_score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        return GradeResult.failed("other_error")
    metrics: dict[str, float] = {}
    for metric in entry.get("metrics_list") or []:
        value = metric.get("value") if isinstance(metric, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[str(metric.get("name"))] = float(value)
    return GradeResult(reward=float(score), metrics=metrics)


@register_grader("lambda", validate=validate_lambda)
class LambdaGrader:
    type = "lambda"

    def __init__(self, spec: dict[str, Any], ctx: GraderContext) -> None:
        self.name: str = spec["name"]
        self.config = spec["lambda"]
        self.backoff_s = ctx.retry_backoff_s
        self.semaphore = asyncio.Semaphore(self.config["concurrency"])
        self.transport = make_transport(self.config, ctx)

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        size = self.config["batch_size"]
        batches = [requests[i : i + size] for i in range(0, len(requests), size)]
        parts = await asyncio.gather(
            *(self._grade_batch(batch) for batch in batches), return_exceptions=True
        )
        for part in parts:
            if isinstance(part, BaseException):
                raise part
        return [result for part in parts if isinstance(part, list) for result in part]

    async def _grade_batch(self, batch: Sequence[GradingRequest]) -> list[GradeResult]:
        async with self.semaphore:
            start = time.perf_counter()
            found, logs = await self._invoke_with_retries([build_event(r) for r in batch])
            per_item = (time.perf_counter() - start) / len(batch)
        results = [result_from_entry(found.get(request.id)) for request in batch]
        for result in results:
            result.execution_time = per_item
            result.logs = logs
        return results

    async def _invoke_with_retries(
        self, event: list[dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], str]:
        """The answers by id and the logs of the call that gave them."""
        ids = {item["id"] for item in event}
        attempts = self.config["max_retries"] + 1
        for attempt in range(attempts):
            invocation = Invocation(None)
            try:
                invocation = await self.transport.invoke(event)
                return answers_by_id(invocation.answer, ids), invocation.logs
            except PermanentError as exc:
                raise self._failure(len(event), attempt + 1, exc, "") from exc
            except TransientError as exc:
                if attempt + 1 == attempts:
                    logs = exc.logs or invocation.logs
                    raise self._failure(len(event), attempts, exc, logs) from exc
                await asyncio.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _failure(self, size: int, attempts: int, exc: Exception, logs: str) -> GradingFailedError:
        error = GradingFailedError(
            f"Reward function {self.config['function']} failed on a batch of {size} after "
            f"{attempts} attempt(s): {exc}"
        )
        error.logs = logs
        return error

    async def aclose(self) -> None:
        await self.transport.aclose()


def make_transport(config: dict[str, Any], ctx: GraderContext) -> Transport:
    kind = function_kind(config["function"])
    timeout_s, concurrency = config["timeout_s"], config["concurrency"]
    if kind == "http":
        return HttpTransport(
            config["function"], timeout_s=timeout_s, concurrency=concurrency, egress=ctx.egress
        )
    if kind == "arn":
        return AwsTransport(config["function"], timeout_s=timeout_s)
    return SandboxTransport(
        config,
        limits=ctx.sandbox,
        timeout_s=timeout_s,
        concurrency=concurrency,
        judge=ctx.judge,
    )
