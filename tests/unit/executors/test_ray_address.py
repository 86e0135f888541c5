"""``--ray-address`` is checked before the server starts, with a message that says what to do."""

from __future__ import annotations

import socket

import pytest

from openrft.executors.ray_address import RayUnreachableError, check_ray_address


def test_missing_or_malformed_addresses_are_refused() -> None:
    with pytest.raises(RayUnreachableError, match="needs --ray-address HOST:PORT"):
        check_ray_address(None)
    with pytest.raises(RayUnreachableError, match="is not HOST:PORT"):
        check_ray_address("head-node")


def test_a_closed_port_is_unreachable_and_a_listening_one_passes() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        check_ray_address(f"127.0.0.1:{port}")
        check_ray_address(f"ray://127.0.0.1:{port}")
    with pytest.raises(
        RayUnreachableError, match=f"Cannot reach the Ray cluster at 127.0.0.1:{port}"
    ):
        check_ray_address(f"127.0.0.1:{port}", timeout_s=2)
