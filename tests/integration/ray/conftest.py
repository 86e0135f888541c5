"""One real local Ray cluster per test run: ``ray start --head`` on 127.0.0.1, stopped at teardown.

Tests take the ``ray_cluster`` fixture and pass its ``address`` to ``ray.init`` or to
``openrft serve --ray-address``. The cluster gets 2 CPUs (the machine has 2 cores), so tests ask
for fractional ``num_cpus`` per actor.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


def _wait_up(cluster: RayCluster) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
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
    started = _ray(args, env, timeout=STARTUP_TIMEOUT_S)
    if started.returncode != 0:
        raise RuntimeError(f"ray start failed:\n{started.stdout}\n{started.stderr}")
    try:
        _wait_up(cluster)
        yield cluster
    finally:
        _ray(["stop", "--force"], env, timeout=60)
