"""One real local Ray cluster per test run: ``ray start --head`` on 127.0.0.1, stopped at teardown.

Teardown kills only this cluster's processes: ``ray start --block`` runs in a session of its own,
and every process of the head (GCS, raylet, agents, and the workers, which the raylet starts
in process groups of their own but the same session) is killed by that session id. ``ray stop``
would kill every Ray process on the machine, other users' clusters included.

Tests take the ``ray_cluster`` fixture and pass its ``address`` to ``ray.init`` or to
``openrft serve --ray-address``. The cluster gets 2 CPUs (the machine has 2 cores), so tests ask
for fractional ``num_cpus`` per actor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port

RAY_BIN = Path(sys.executable).parent / "ray"
STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RayCluster:
    """A running head node: ``address`` is ``127.0.0.1:<port>`` (the GCS)."""

    address: str
    temp_dir: Path
    env: dict[str, str]


def _ray(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RAY_BIN), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _wait_up(cluster: RayCluster, head: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        if head.poll() is not None:
            log = (cluster.temp_dir / "ray-start.log").read_text(errors="replace")
            raise RuntimeError(f"ray start exited with {head.returncode}:\n{log[-4000:]}")
        result = _ray(["status", "--address", cluster.address], cluster.env, timeout=30)
        if result.returncode == 0:
            return
        last = result.stderr[-2000:]
        time.sleep(1)
    raise RuntimeError(f"ray head at {cluster.address} not up in {STARTUP_TIMEOUT_S}s:\n{last}")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    pytest.importorskip("ray", reason="ray is installed by `make install` (the ray extra)")
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
    # Ray kills workers when the whole machine nears 95% memory in use, whoever uses it; on a
    # shared test machine that is other processes: leave out-of-memory to the kernel.
    env["RAY_memory_monitor_refresh_ms"] = "0"
    port = free_port()
    cluster = RayCluster(address=f"127.0.0.1:{port}", temp_dir=temp_dir, env=env)
    args = ["start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    args += ["--num-cpus", "2", "--include-dashboard=false", "--temp-dir", str(temp_dir)]
    with (temp_dir / "ray-start.log").open("wb") as log:
        head = subprocess.Popen(
            [str(RAY_BIN), *args, "--block"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_up(cluster, head)
        yield cluster
    finally:
        _kill_session(head)


def _kill_session(head: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process in the session ``head`` leads, as ``ray stop --force`` would
    kill every Ray process, and wait until they are gone."""
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
