"""Two ASGI middlewares: a request body size cap and a per-key token-bucket rate limit.

Both answer with an OpenAI error object naming the setting to change: 413 for a body over
``max_request_bytes`` (``max_upload_bytes`` plus multipart framing on ``POST /v1/files``), and
429 with ``Retry-After`` when a key (or, without one, a client address) has spent its bucket.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openrft.api.errors import error_response
from openrft.errors import PayloadTooLargeError

UPLOAD_PATH = "/v1/files"
# Multipart framing around the file part on top of max_upload_bytes.
MULTIPART_SLACK_BYTES = 1 << 20
MAX_TRACKED_KEYS = 10_000


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


class BodyLimitMiddleware:
    """Refuse a declared ``Content-Length`` over the cap unread; stop a longer stream at the cap."""

    def __init__(self, app: ASGIApp, *, max_request_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes

    def limit(self, scope: Scope) -> tuple[int, str]:
        """The cap on this request's body and the setting that raises it."""
        if scope.get("method") == "POST" and scope.get("path") == UPLOAD_PATH:
            setting = "--max-upload-bytes (OPENRFT_MAX_UPLOAD_BYTES)"
            return self.max_upload_bytes + MULTIPART_SLACK_BYTES, setting
        return self.max_request_bytes, "OPENRFT_MAX_REQUEST_BYTES"

    def too_large(self, scope: Scope) -> PayloadTooLargeError:
        limit, setting = self.limit(scope)
        return PayloadTooLargeError(
            f"The request body is over the limit of {limit} bytes; send less or raise {setting}.",
            code="request_too_large",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, _ = self.limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            exc = self.too_large(scope)
            response = error_response(exc.status, exc.message, exc.type, exc.param, exc.code)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self.too_large(scope)
            return message

        await self.app(scope, limited, send)


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimitMiddleware:
    """A token bucket per API key on ``/v1``: ``per_second`` refill, ``burst`` capacity."""

    def __init__(self, app: ASGIApp, *, per_second: float, burst: int) -> None:
        self.app = app
        self.per_second = per_second
        self.burst = burst
        self.buckets: OrderedDict[bytes, Bucket] = OrderedDict()

    def wait_s(self, key: bytes, now: float) -> float:
        """0 when a request may go now (a token is taken), else seconds until one is free."""
        bucket = self.buckets.pop(key, None) or Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_second)
        bucket.updated = now
        self.buckets[key] = bucket
        if len(self.buckets) > MAX_TRACKED_KEYS:
            self.buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_second

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("?", 0)
        key = _header(scope, b"authorization") or f"client:{client[0]}".encode()
        wait = self.wait_s(key, time.monotonic())
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        response = error_response(
            429,
            f"Rate limit reached for this API key ({self.per_second:g} requests/s, burst "
            f"{self.burst}); retry after {retry_after} s or raise OPENRFT_RATE_LIMIT_PER_SECOND.",
            "rate_limit_error",
            code="rate_limit_exceeded",
        )
        response.headers["Retry-After"] = str(retry_after)
        await response(scope, receive, send)
