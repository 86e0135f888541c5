"""Fixtures shared by every test layer."""

from __future__ import annotations

import importlib
import os
import socket
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "OPENRFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

PRODUCT_STEP_METRICS = frozenset(
    {
        "step",
        "total_steps",
        "train_reward_mean",
        "train_reward_std",
        "critic_rewards_mean",
        "actor_pg_loss",
        "actor_entropy",
        "actor_grad_norm",
        "actor_kl",
        "actor_pg_clipfrac",
        "response_length_mean",
        "frac_reward_zero_std",
        "grader_error_rate",
        "step_time_s",
        "rollout_tokens_per_s",
    }
)
"""Keys every per-step ``metrics`` event carries: written from PRODUCT.md, not from the code."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_reachable(url: str = POSTGRES_URL) -> bool:
    """True when a PostgreSQL server answers at ``url``."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def require_module(name: str) -> Any:
    """Import an optional package; skip the test module without it, but fail in CI, where
    ``make install`` puts every extra the tests use in place."""
    if os.environ.get("CI"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


def require_postgres() -> str:
    """The test PostgreSQL URL; skip when unreachable, but fail when running in CI."""
    if postgres_reachable():
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL unreachable at {POSTGRES_URL} and CI is set")
    pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")


@pytest.fixture
def onednn_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    """``openrft.dense`` takes oneDNN for every eligible product, without timing the two
    libraries (which one is faster depends on the CPU): tests that it really runs there."""
    from openrft import dense

    monkeypatch.setattr(dense, "_onednn_faster", {})
    monkeypatch.setattr(dense, "_onednn_wins", lambda *args: True)
