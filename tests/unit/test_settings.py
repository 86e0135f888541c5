"""Settings derived values that workers and model graders rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrft.settings import Settings


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:9001/v1"),
        ("0.0.0.0", "http://127.0.0.1:9001/v1"),
        ("::", "http://127.0.0.1:9001/v1"),
        ("::1", "http://[::1]:9001/v1"),
        ("10.1.2.3", "http://10.1.2.3:9001/v1"),
    ],
)
def test_self_base_url_reaches_this_server_from_the_same_machine(host: str, expected: str) -> None:
    assert Settings(host=host, port=9001).self_base_url == expected


def test_default_database_is_sqlite_inside_the_data_dir(tmp_path: Path) -> None:
    url = Settings(data_dir=tmp_path).resolved_database_url
    assert url == f"sqlite:///{(tmp_path / 'openrft.db').resolve()}"


def test_env_prefix_reads_openrft_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENRFT_MAX_CONCURRENT_JOBS", "3")
    monkeypatch.setenv("OPENRFT_PORT", "8123")
    settings = Settings()
    assert (settings.max_concurrent_jobs, settings.port) == (3, 8123)


def test_a_worker_gets_every_setting_but_the_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: workers read only the environment, so ``serve`` flags (``--egress-allow``,
    ``--grader-base-dir``, ...) never reached them, while ``OPENRFT_API_KEY`` did."""
    given = Settings(
        api_key="sk-secret",
        data_dir=tmp_path,
        egress_allow=["10.0.0.0/8", "reward.internal"],
        grader_base_dir=tmp_path / "graders",
        model_aliases={"gpt-4.1": "tiny-random-llama"},
        sandbox_isolation="unshare",
        max_job_seconds=60.0,
    )
    env = given.environment()
    assert "OPENRFT_API_KEY" not in env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == given.model_copy(update={"api_key": None})
