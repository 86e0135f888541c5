"""A local single-node Ray head for the benchmarks and the Ray integration tests.

``ray start --head --block`` runs in a session of its own; stopping the head kills every process
of that session (GCS, raylet, agents, and the workers, which the raylet starts in process
groups of their own but in the same session). ``ray stop`` would kill every Ray process on the
machine, other users' clusters included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

RAY_BIN = Path(sys.executable).parent / "ray"
STARTUP_TIMEOUT_S = 120.0


@contextmanager
def ray_head(port: int, num_cpus: int, temp_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """A head on ``127.0.0.1:port`` (dashboard off, Ray's files in ``temp_dir``, its output in
    ``temp_dir/ray-start.log``); yields its address once ``ray status`` answers."""
    address = f"127.0.0.1:{port}"
    args = ["start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    args += ["--num-cpus", str(num_cpus), "--include-dashboard=false", "--temp-dir", str(temp_dir)]
    log_path = temp_dir / "ray-start.log"
    with log_path.open("wb") as log:
        head = subprocess.Popen(
            [str(RAY_BIN), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_up(address, env, head, log_path)
        yield address
    finally:
        _kill_session(head)


def _wait_up(address: str, env: dict[str, str], head: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        if head.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"ray start exited with {head.returncode}:\n{tail}")
        status = [str(RAY_BIN), "status", "--address", address]
        result = subprocess.run(status, env=env, capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return
        last = result.stderr[-2000:]
        time.sleep(1)
    raise RuntimeError(f"ray head at {address} not up in {STARTUP_TIMEOUT_S}s:\n{last}")


def _kill_session(head: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process in the session ``head`` leads and wait until they are gone."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == head.pid:
                process.send_signal(signal.SIGKILL)
                members.append(process)
        except (psutil.Error, ProcessLookupError):
            continue  # exited meanwhile
    head.wait(timeout=60)
    psutil.wait_procs(members, timeout=60)
