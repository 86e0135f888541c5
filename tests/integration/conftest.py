"""A real ``openrft serve`` on a free loopback port, driven with the official openai SDK.

Use the session-wide ``server`` fixture (keyless, real worker), or ``start_server(...)`` for a
server of your own (API key, fake worker, PostgreSQL URL, extra env).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import REPO_ROOT, free_port
from tests.integration.store_fixtures import Store, store

__all__ = ["ServerHandle", "Store", "start_server", "store"]

OPENRFT_BIN = Path(sys.executable).parent / "openrft"
STARTUP_TIMEOUT_S = 60.0


@dataclass
class ServerHandle:
    """A running server: ``base_url`` ends in ``/v1``; ``root_url`` is the bare origin."""

    root_url: str
    base_url: str
    data_dir: Path
    api_key: str | None
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self, api_key: str | None = None) -> openai.OpenAI:
        """An SDK client with retries off; ``api_key`` overrides the server's own key."""
        key = api_key or self.api_key or "no-key"
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _wait_healthy(handle: ServerHandle) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            raise RuntimeError(f"openrft serve exited early:\n{handle.log_tail()}")
        try:
            if httpx.get(f"{handle.root_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    tail = handle.log_tail()
    raise RuntimeError(f"openrft serve not healthy after {STARTUP_TIMEOUT_S}s:\n{tail}")


@contextmanager
def start_server(
    data_dir: Path,
    *,
    api_key: str | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[ServerHandle]:
    """Start ``openrft serve`` as a subprocess, wait for /health, kill it on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [str(OPENRFT_BIN), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if api_key:
        args += ["--api-key", api_key]
    args += list(extra_args)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENRFT_")}
    # Suites fire requests back to back; test_limits.py turns the rate limit on for itself.
    full_env["OPENRFT_RATE_LIMIT_PER_SECOND"] = "0"
    # Teardown kills the server after 15 s: its workers must be paused or stopped before that.
    full_env["OPENRFT_SHUTDOWN_GRACE_S"] = "5"
    # Handler files that tests write live in pytest's base temp dir, beside the data dir.
    full_env["OPENRFT_GRADER_BASE_DIR"] = str(data_dir.parent)
    # Tests' reward servers listen on loopback: allow-listed as an operator would allow an
    # internal reward service (keyed servers deny loopback by default).
    full_env["OPENRFT_EGRESS_ALLOW"] = "127.0.0.0/8,::1"
    full_env.update(env or {})
    full_env = {k: v for k, v in full_env.items() if v != ""}  # "" unsets a variable
    log_path = data_dir / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=REPO_ROOT
        )
    root = f"http://127.0.0.1:{port}"
    handle = ServerHandle(root, f"{root}/v1", data_dir, api_key, log_path, process)
    try:
        _wait_healthy(handle)
        yield handle
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


FAKE_WORKER = Path(__file__).with_name("fake_worker.py")
RFT_API_KEY = "sk-test-default-project"
RFT_MAX_UPLOAD_BYTES = 16_384


@pytest.fixture(scope="session")
def rft_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A keyed server (project "default") whose jobs run ``fake_worker.py``, 16 KiB upload cap."""
    env = {
        "OPENRFT_WORKER_COMMAND": json.dumps([sys.executable, str(FAKE_WORKER)]),
        "OPENRFT_MAX_UPLOAD_BYTES": str(RFT_MAX_UPLOAD_BYTES),
        "OPENRFT_MAX_CONCURRENT_JOBS": "4",
    }
    data_dir = tmp_path_factory.mktemp("openrft-rft-server")
    with start_server(data_dir, api_key=RFT_API_KEY, env=env) as handle:
        yield handle


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One keyless server for the whole session (real training worker)."""
    with start_server(tmp_path_factory.mktemp("openrft-server")) as handle:
        yield handle


def wait_for_status(
    client: openai.OpenAI, job_id: str, statuses: set[str], timeout_s: float = 90.0
) -> Any:
    """Poll ``jobs.retrieve`` until the job's status is in ``statuses``; return the job."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status!r}, wanted {statuses}")
        time.sleep(0.2)


def upload_jsonl(client: openai.OpenAI, rows: int = 4, name: str = "train.jsonl") -> str:
    """Upload a valid fine-tune file of ``rows`` rows; return its id."""
    lines = [
        json.dumps({"messages": [{"role": "user", "content": f"{i}+{i}?"}], "answer": str(2 * i)})
        for i in range(rows)
    ]
    return client.files.create(file=(name, "\n".join(lines).encode()), purpose="fine-tune").id


STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


def rft_method(**hyperparameters: Any) -> dict[str, Any]:
    """A valid ``method`` for jobs.create."""
    section: dict[str, Any] = {"grader": STRING_CHECK}
    if hyperparameters:
        section["hyperparameters"] = hyperparameters
    return {"type": "reinforcement", "reinforcement": section}


def start_waiting_job(client: openai.OpenAI) -> str:
    """A job whose fake worker idles until paused or cancelled; its id once it is running."""
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=upload_jsonl(client),
        method=rft_method(),
        metadata={"fake_worker": "wait"},
    )
    wait_for_status(client, job.id, {"running"})
    return job.id


@pytest.fixture(scope="session")
def finetuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server with a tiny-random-llama job holding two real LoRA checkpoints (lora_models)."""
    from tests.integration.lora_models import serve_finetuned

    with serve_finetuned(tmp_path_factory.mktemp("openrft-lora")) as models:
        yield models
