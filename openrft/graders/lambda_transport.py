"""How a batch event reaches a reward function: HTTP POST, the sandbox, or AWS Lambda."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any, Protocol

import httpx

from openrft.graders.sandbox.pool import SandboxPool
from openrft.graders.types import JudgeAccess, SandboxLimits
from openrft.net.egress import EgressPolicy, body_snippet, unreachable_message


class TransientError(Exception):
    """Worth retrying: 5xx, 408/429, timeouts, connection errors, garbage, handler exceptions.

    ``logs``: what the handler printed or logged, when it ran here."""

    def __init__(self, message: str, logs: str = "") -> None:
        super().__init__(message)
        self.logs = logs


class PermanentError(Exception):
    """Not worth retrying (e.g. HTTP 4xx)."""


@dataclasses.dataclass(frozen=True)
class Invocation:
    """A reward function's answer and what it printed or logged ("" when not known here)."""

    answer: Any
    logs: str = ""


class Transport(Protocol):
    async def invoke(self, event: list[dict[str, Any]]) -> Invocation: ...

    async def aclose(self) -> None: ...


class HttpTransport:
    """POST the event as JSON to a URL, through the egress policy; the answer is the JSON body.

    Error texts reach the tenant (job errors): every connection-level failure reads the same,
    and at most a short sanitized snippet of a response body is quoted."""

    def __init__(
        self, url: str, *, timeout_s: float, concurrency: int, egress: EgressPolicy
    ) -> None:
        self.url = url
        self.client = egress.async_client(
            timeout=timeout_s, limits=httpx.Limits(max_connections=concurrency)
        )

    async def invoke(self, event: list[dict[str, Any]]) -> Invocation:
        try:
            response = await self.client.post(self.url, json=event)
        except httpx.TimeoutException as exc:
            if not isinstance(exc, httpx.ConnectTimeout):
                raise TransientError(f"no answer within {self.client.timeout.read}s") from exc
            raise TransientError(unreachable_message(self.url)) from exc
        except httpx.HTTPError as exc:
            raise TransientError(unreachable_message(self.url)) from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientError(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"HTTP {response.status_code}: {body_snippet(response.text)}")
        try:
            return Invocation(response.json())
        except ValueError as exc:
            raise TransientError("the answer is not JSON") from exc

    async def aclose(self) -> None:
        await self.client.aclose()


class SandboxTransport:
    """Call ``handler(event, context)`` from a local file in warm sandbox processes."""

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        limits: SandboxLimits,
        timeout_s: float,
        concurrency: int,
        judge: JudgeAccess | None = None,
    ) -> None:
        workers = max(1, min(concurrency, limits.workers))
        self.pool = SandboxPool(
            source=spec["_source"],
            entry=spec["_handler"],
            kind="lambda",
            filename=spec["_filename"],
            limits=dataclasses.replace(limits, wall_time_s=timeout_s, workers=workers),
            judge=judge,
        )
        self.context = {"function_name": spec["_handler"], "memory_limit_in_mb": 0}

    async def invoke(self, event: list[dict[str, Any]]) -> Invocation:
        [outcome] = await self.pool.run([[event, self.context]])
        if not outcome.ok:
            raise TransientError(f"the handler failed: {outcome.error}", outcome.logs)
        return Invocation(outcome.value, outcome.logs)

    async def aclose(self) -> None:
        await self.pool.aclose()


class AwsTransport:
    """``lambda:Invoke`` through boto3 (extra ``aws``), in a thread."""

    def __init__(self, arn: str, *, timeout_s: float) -> None:
        import boto3
        from botocore.config import Config

        region = arn.split(":")[3]
        config = Config(read_timeout=timeout_s, retries={"max_attempts": 0})
        self.client = boto3.client("lambda", region_name=region, config=config)
        self.arn = arn

    async def invoke(self, event: list[dict[str, Any]]) -> Invocation:
        try:
            response = await asyncio.to_thread(
                self.client.invoke, FunctionName=self.arn, Payload=json.dumps(event).encode()
            )
            payload = response["Payload"].read()
        except Exception as exc:  # botocore raises many unrelated types
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        if response.get("FunctionError"):
            raise TransientError(f"the function failed: {payload[:500]!r}")
        try:
            return Invocation(json.loads(payload))
        except ValueError as exc:
            raise TransientError("the answer is not JSON") from exc

    async def aclose(self) -> None:
        return None
