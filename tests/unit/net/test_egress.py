"""The egress policy against real loopback HTTP servers and a resolver the test controls."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import httpx
import pytest

from openrft.net.addresses import is_public
from openrft.net.egress import EgressPolicy, body_snippet, unreachable_message
from openrft.settings import Settings
from tests.conftest import free_port
from tests.unit.net.http_servers import http_server

DENIED = [
    "127.0.0.1",
    "127.255.0.9",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "169.254.169.254",  # cloud metadata
    "192.0.0.192",  # Oracle Cloud metadata
    "224.0.0.1",  # multicast (Python 3.11 calls it global)
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible form
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "fe80::1",
    "fd00:ec2::254",
    "fc00::1",
    "ff02::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", DENIED)
def test_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert not EgressPolicy().allows_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_is_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_allow_list_ranges_hosts_and_the_metadata_rule() -> None:
    policy = EgressPolicy.parse(["10.0.0.0/8", "::1", " Grader.Internal. ", "169.254.0.0/16"])
    assert policy.allows_address(ipaddress.ip_address("10.9.9.9"))
    assert policy.allows_address(ipaddress.ip_address("::ffff:10.9.9.9"))  # mapped form too
    assert policy.allows_address(ipaddress.ip_address("::1"))
    assert not policy.allows_address(ipaddress.ip_address("127.0.0.1"))
    assert policy.allows_address(ipaddress.ip_address("169.254.1.1"))
    # A range never opens the metadata service; naming the address does.
    assert not policy.allows_address(ipaddress.ip_address("169.254.169.254"))
    named = EgressPolicy.parse(["169.254.169.254"])
    assert named.allows_address(ipaddress.ip_address("169.254.169.254"))
    assert policy.allow_hosts == {"grader.internal"}
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        EgressPolicy.parse(["10.0.0.0/33"])


def test_settings_default_and_env_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    assert EgressPolicy.from_settings(Settings(), keyed=False).allows_address(loopback)
    assert not EgressPolicy.from_settings(Settings(), keyed=True).allows_address(loopback)
    exposed = Settings(host="0.0.0.0")
    assert not EgressPolicy.from_settings(exposed, keyed=False).allows_address(loopback)
    monkeypatch.setenv("OPENRFT_EGRESS_ALLOW", "10.0.0.0/8, grader.internal")
    assert Settings().egress_allow == ["10.0.0.0/8", "grader.internal"]
    monkeypatch.setenv("OPENRFT_EGRESS_ALLOW", '["::1"]')
    assert Settings().egress_allow == ["::1"]
    monkeypatch.setenv("OPENRFT_EGRESS_ALLOW", "")
    assert Settings().egress_allow == []  # set but empty: nothing private, even keyless
    assert not EgressPolicy.from_settings(Settings(), keyed=False).allows_address(loopback)


async def test_loopback_is_refused_unless_allow_listed() -> None:
    with http_server() as url:
        async with EgressPolicy().async_client() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{url}/ok")
        async with EgressPolicy.parse(["127.0.0.1"]).async_client() as client:
            assert (await client.get(f"{url}/ok")).text == "hello from 127.0.0.1"


async def test_every_redirect_hop_is_checked() -> None:
    policy = EgressPolicy.parse(["127.0.0.1/32"])
    with http_server("127.0.0.1") as allowed, http_server("127.0.0.2") as denied:
        async with policy.async_client(follow_redirects=True) as client:
            hop = await client.get(f"{allowed}/redirect?to={allowed}/ok")
            assert hop.text == "hello from 127.0.0.1"
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{allowed}/redirect?to={denied}/ok")


async def test_refused_and_denied_look_the_same() -> None:
    """A closed allowed port and a denied address both end as ConnectError (no oracle)."""
    closed = free_port()
    errors = []
    for policy in (EgressPolicy.parse(["127.0.0.1"]), EgressPolicy()):
        async with policy.async_client() as client:
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(f"http://127.0.0.1:{closed}/")
            errors.append(info.value)
    assert [type(e) for e in errors] == [httpx.ConnectError, httpx.ConnectError]
    assert unreachable_message("http://a/") == unreachable_message("http://a/")


class _ChangingResolver:
    """A DNS that answers ``answers`` in turn (a rebinding attacker's name server)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        address = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]


async def test_connects_to_the_checked_address_without_a_second_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """First answer allowed, every later one the denied address: the request still lands on
    the allowed server because the name is resolved once per connection and that address used."""
    policy = EgressPolicy.parse(["127.0.0.1/32"])
    with http_server("127.0.0.1") as url:
        port = int(url.rsplit(":", 1)[1])
        resolver = _ChangingResolver("127.0.0.1", "127.0.0.2")
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        async with policy.async_client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
            response = await client.get(f"http://rebind.example:{port}/ok")
            assert response.text == "hello from 127.0.0.1"
            assert resolver.calls == 1
            with pytest.raises(httpx.ConnectError):  # the next connection resolves to .2
                await client.get(f"http://rebind.example:{port}/ok")


def test_allow_listed_host_name_and_sync_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_server("127.0.0.1") as url:
        port = int(url.rsplit(":", 1)[1])
        monkeypatch.setattr(socket, "getaddrinfo", _ChangingResolver("127.0.0.1"))
        EgressPolicy.parse(["grader.internal"]).connect("grader.internal", port, 5).close()
        with pytest.raises(OSError):
            EgressPolicy().connect("grader.internal", port, 5)


def test_body_snippet_is_bounded_and_printable() -> None:
    text = "secret\x1b[31m\r\nline two\x00" + "x" * 1000
    snippet = body_snippet(text, limit=40)
    assert len(snippet) == 40 and snippet.endswith("...")
    assert snippet.isprintable() and "\x1b" not in snippet
    assert body_snippet("  short\n body ") == "short body"
