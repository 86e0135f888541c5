"""The dashboard page is served at / without a key and reads the public /v1 API."""

from __future__ import annotations

import httpx

from tests.integration.conftest import ServerHandle


def test_dashboard_served_without_key(server: ServerHandle) -> None:
    resp = httpx.get(f"{server.root_url}/", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = resp.text
    # The page drives the same endpoints an SDK user calls, and plots the reward curve.
    assert '"/fine_tuning/jobs' in page
    assert "train_reward_mean" in page and "valid_reward_mean" in page
    assert "/checkpoints" in page
