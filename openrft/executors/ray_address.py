"""Check ``--ray-address`` before the server starts: a plain message instead of a long hang.

``ray.init`` retries an unreachable GCS for a minute and then fails with an RPC error; a TCP
connect with a short timeout says the same thing at once and in the operator's words.
"""

from __future__ import annotations

import socket

RAY_CLIENT_PREFIX = "ray://"
PROBE_TIMEOUT_S = 5.0


class RayUnreachableError(RuntimeError):
    """The Ray cluster named by the settings cannot be used; the message says what to do."""


def check_ray_address(address: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise RayUnreachableError unless ``address`` (``HOST:PORT``, ``ray://HOST:PORT`` or
    ``auto``) names a port that accepts connections."""
    if not address:
        raise RayUnreachableError(
            "--executor ray needs --ray-address HOST:PORT (or OPENRFT_RAY_ADDRESS): the address "
            "of the cluster's head node that `ray start --head` prints."
        )
    if address == "auto":  # the cluster `ray start` left on this machine; ray.init finds it
        return
    host, sep, port = address.removeprefix(RAY_CLIENT_PREFIX).rpartition(":")
    if not sep or not host or not port.isdigit():
        raise RayUnreachableError(
            f"--ray-address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379), "
            f"{RAY_CLIENT_PREFIX}HOST:PORT or auto."
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayUnreachableError(
            f"Cannot reach the Ray cluster at {address}: {reason}. Start its head node with "
            f"`ray start --head --port {port}` or pass the address of a running one to "
            "--ray-address / OPENRFT_RAY_ADDRESS."
        ) from None
