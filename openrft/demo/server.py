"""Start ``openrft serve`` as a subprocess on a free loopback port for the demo."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HEALTH_TIMEOUT_S = 300.0
# The demo's server owns its address, data and auth; other OPENRFT_* settings pass through.
_SERVER_OWNED_ENV = frozenset(
    f"OPENRFT_{name}" for name in ("HOST", "PORT", "DATA_DIR", "DATABASE_URL", "API_KEY")
)


def free_loopback_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(process: subprocess.Popen[bytes], root_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"openrft serve exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{root_url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"openrft serve did not answer {root_url}/health in {HEALTH_TIMEOUT_S} s")


@contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so that the server is stopped, not orphaned."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def local_server(data_dir: Path, log_path: Path, grader_dir: Path) -> Iterator[str]:
    """Run ``openrft serve --data-dir data_dir`` on a free port; yields its ``/v1`` base URL.

    Lambda handler files are read from ``grader_dir`` (``--grader-base-dir``).
    The server's output goes to ``log_path``; the process is terminated on exit.
    """
    port = free_loopback_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", "from openrft.cli import app; app()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    command += ["--grader-base-dir", str(grader_dir.resolve())]
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_OWNED_ENV}
    root_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log, _exit_on_sigterm():
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_healthy(process, root_url, log_path)
            yield f"{root_url}/v1"
        finally:
            process.terminate()  # the server stops its training workers on shutdown
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
