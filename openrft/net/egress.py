"""Outbound requests to URLs a tenant chose (Lambda URLs, HTTP tools, MCP servers): the policy.

A destination is allowed when every step holds: the URL's host is resolved once, each resolved
address is checked (public unicast, or allow-listed by the operator), and the connection goes to
the address that was checked, so a DNS answer that changes between check and connect (rebinding)
cannot redirect it. The check sits in the connection layer, so each redirect hop and each new
pooled connection is checked the same way. Proxies from the environment are ignored (they would
connect on the server's behalf).

Use ``EgressPolicy.from_settings(settings, keyed=...)`` once, then ``policy.async_client(...)``
(an ``httpx.AsyncClient``; its signature also fits the ``mcp`` SDK's ``httpx_client_factory``)
or ``policy.connect(host, port, timeout_s)`` for a plain socket. Whatever fails — refused, timed
out, unresolvable, denied — tenants get one message (``unreachable_message``), so the server is
no port scanner; the reason goes to the server log only. Response text shown to a tenant goes
through ``body_snippet``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from openrft.net.addresses import (
    METADATA_ADDRESSES,
    IPAddress,
    IPNetwork,
    canonical,
    is_public,
    parse_address,
)
from openrft.settings import Settings

log = logging.getLogger("openrft.egress")

# A keyless server bound to loopback serves its own machine's user: loopback URLs (a reward
# server on localhost) are that user's own, as with --grader-base-dir's and model roots' defaults.
LOOPBACK_ALLOW = ("127.0.0.0/8", "::1")
SNIPPET_CHARS = 120
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class EgressDenied(httpcore.ConnectError):
    """No allowed address to connect to. A ``ConnectError`` on purpose: callers (and tenants)
    see it exactly like a refused or unreachable connection."""


def unreachable_message(url: str) -> str:
    """The one tenant-visible text for every failure to connect to ``url``."""
    return (
        f"No answer from {body_snippet(url)}: the connection failed or timed out, or the address "
        "is not allowed by this server's egress policy (OPENRFT_EGRESS_ALLOW)."
    )


def body_snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """At most ``limit`` printable characters of ``text``, whitespace collapsed, for messages."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text[: limit * 4])
    collapsed = " ".join(printable.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 3] + "..."


@dataclass(frozen=True)
class EgressPolicy:
    """Public unicast addresses, plus what the operator allow-lists.

    ``allow_networks``: CIDRs (a single address is a /32 or /128); ``allow_hosts``: host names
    (lower case, exact) whose every resolved address is allowed. Cloud metadata addresses are
    allowed only by a single-address entry or a host name, never by a wider range.
    """

    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> EgressPolicy:
        """From allow-list entries: ``10.0.0.0/8``, ``::1``, ``grader.internal``.

        Raises ValueError naming a malformed entry."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if "/" in entry or parse_address(entry) is not None:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError as exc:
                    raise ValueError(f"egress allow-list entry {entry!r}: {exc}") from exc
            else:
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    @classmethod
    def from_settings(cls, settings: Settings, *, keyed: bool) -> EgressPolicy:
        """``--egress-allow`` when given; else loopback on a keyless loopback server, else none."""
        entries = settings.egress_allow
        if entries is None:
            entries = list(LOOPBACK_ALLOW) if settings.is_loopback and not keyed else []
        return cls.parse(entries)

    def allows_address(self, address: IPAddress) -> bool:
        if is_public(address):
            return True
        unwrapped = canonical(address)
        metadata = unwrapped in METADATA_ADDRESSES
        return any(
            (unwrapped in network or address in network)
            and (not metadata or network.num_addresses == 1)
            for network in self.allow_networks
        )

    def allowed_addresses(self, host: str, infos: list[tuple[Any, ...]]) -> list[str]:
        """The addresses of ``getaddrinfo`` results this policy lets ``host`` connect to;
        EgressDenied when there are none."""
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if host.lower().rstrip(".") in self.allow_hosts:
            return addresses
        allowed = [a for a in addresses if (ip := parse_address(a)) and self.allows_address(ip)]
        if not allowed:
            log.warning("egress denied: %s resolves to %s", host, ", ".join(addresses) or "nothing")
            raise EgressDenied(f"cannot connect to {host}")
        return allowed

    async def resolve(self, host: str, port: int, timeout_s: float | None = None) -> list[str]:
        """Allowed addresses of ``host`` (EgressDenied when none: unresolvable or all denied)."""
        lookup = asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        try:
            infos = await asyncio.wait_for(lookup, timeout_s)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise _unresolved(host, exc) from exc
        return self.allowed_addresses(host, infos)

    def resolve_sync(self, host: str, port: int) -> list[str]:
        """``resolve`` for synchronous callers."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise _unresolved(host, exc) from exc
        return self.allowed_addresses(host, infos)

    def connect(self, host: str, port: int, timeout_s: float) -> socket.socket:
        """A TCP connection to an allowed address of ``host``; OSError when none is allowed or
        none answers (one exception type either way)."""
        try:
            addresses = self.resolve_sync(host, port)
        except EgressDenied as exc:
            raise ConnectionError(str(exc)) from exc
        last: OSError | None = None
        for address in addresses:
            try:
                return socket.create_connection((address, port), timeout=timeout_s)
            except OSError as exc:
                last = exc
        assert last is not None
        raise last

    def async_transport(self, *, limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
        """An httpx transport whose every new connection goes through this policy."""
        transport = httpx.AsyncHTTPTransport(
            trust_env=False, limits=limits or httpx.Limits(max_connections=100)
        )
        pool = transport._pool
        if not isinstance(pool, httpcore.AsyncConnectionPool):
            raise TypeError(f"unexpected httpx pool {type(pool).__name__}")
        # httpx has no public hook for the network backend; the pool hands this one to every
        # connection it opens (httpcore's AsyncConnectionPool(network_backend=...)).
        pool._network_backend = PolicyBackend(self, pool._network_backend)
        return transport

    def async_client(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
        auth: httpx.Auth | None = None,
        *,
        limits: httpx.Limits | None = None,
        follow_redirects: bool = False,
    ) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` bound by this policy (redirect hops are checked too)."""
        return httpx.AsyncClient(
            transport=self.async_transport(limits=limits),
            headers=headers,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            auth=auth,
            follow_redirects=follow_redirects,
            trust_env=False,
        )


def _unresolved(host: str, exc: BaseException) -> EgressDenied:
    log.info("egress: cannot resolve %s: %s", host, exc)
    return EgressDenied(f"cannot connect to {host}")


class PolicyBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend: resolve, check, then connect to the checked address only."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self.policy = policy
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port, timeout)
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
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise EgressDenied("unix sockets are not an allowed destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
