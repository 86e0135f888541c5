"""The egress policy for ``httpx2`` clients (the ``mcp`` SDK's HTTP stack).

The same rule as ``EgressPolicy.async_client`` (resolve, check every address, connect only to a
checked one, on every new connection and redirect hop), for the ``httpx2`` / ``httpcore2`` fork
that ``mcp`` 2.x speaks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

from openrft.net.egress import EgressDenied, EgressPolicy


class Httpx2PolicyBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2 network backend: resolve, check, then connect to the checked address only."""

    def __init__(self, policy: EgressPolicy, inner: httpcore2.AsyncNetworkBackend) -> None:
        self.policy = policy
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            addresses = await self.policy.resolve(host, port, timeout)
        except EgressDenied as exc:
            raise httpcore2.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("unix sockets are not an allowed destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def httpx2_client(policy: EgressPolicy, timeout_s: float) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` bound by ``policy``; no proxies from the environment."""
    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    pool = transport._pool
    if not isinstance(pool, httpcore2.AsyncConnectionPool):
        raise TypeError(f"unexpected httpx2 pool {type(pool).__name__}")
    # As in EgressPolicy.async_transport: the pool hands this backend to every connection.
    pool._network_backend = Httpx2PolicyBackend(policy, pool._network_backend)
    return httpx2.AsyncClient(
        transport=transport,
        timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
        follow_redirects=False,
        trust_env=False,
    )
