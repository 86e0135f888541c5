"""Which IP addresses a tenant-chosen URL may reach: public unicast only, by default.

Python's ``is_global`` differs between versions (3.11 calls multicast, 6to4 and NAT64 forms of
127.0.0.1 global), so the special-purpose ranges are listed here from the IANA registries, and an
IPv6 address that embeds an IPv4 one (mapped, 6to4, NAT64) is judged by the embedded address.
"""

from __future__ import annotations

import ipaddress
from typing import TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Never a tenant's destination unless the operator allow-lists it (IANA special-purpose
# registries: RFC 6890 and its updates).
DENIED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local: AWS/GCP/Azure metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments (Oracle Cloud metadata 192.0.0.192)
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "100::/64",
        "2001::/23",  # includes Teredo 2001::/32
        "2001:db8::/32",
        "fc00::/7",  # unique local (AWS's IPv6 metadata fd00:ec2::254)
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",  # multicast
    )
)

# Cloud instance metadata services: allowed only when the operator names the address itself,
# never through a wider allow-listed range.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address, else None."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def canonical(address: IPAddress) -> IPAddress:
    """``address`` with any IPv6 zone dropped and an embedded IPv4 address unwrapped."""
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return embedded_ipv4(address) or address


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address (after unwrapping embedded IPv4)."""
    address = canonical(address)
    if any(address in network for network in DENIED_NETWORKS):
        return False
    return address.is_global and not address.is_multicast


def parse_address(text: str) -> IPAddress | None:
    """An IP address (IPv6 zone allowed), or None when ``text`` is not one."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
