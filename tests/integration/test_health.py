"""The server starts and answers its liveness probe."""

from __future__ import annotations

import httpx

from tests.integration.conftest import ServerHandle


def test_health_needs_no_key(server: ServerHandle) -> None:
    response = httpx.get(f"{server.root_url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
