"""One real local Ray cluster per test run: ``ray start --head`` on 127.0.0.1, stopped at teardown.

Tests take the ``ray_cluster`` fixture and pass its ``address`` to ``ray.init`` or to
``openrft serve --ray-address``. The cluster gets 2 CPUs (the machine has 2 cores), so tests ask
for fractional ``num_cpus`` per actor. Teardown kills only this head's processes (see
``bench/ray_head.py``), never another Ray cluster on the machine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.ray_head import ray_head
from tests.conftest import free_port


@dataclass(frozen=True)
class RayCluster:
    """A running head node: ``address`` is ``127.0.0.1:<port>`` (the GCS); Ray's logs are
    under ``temp_dir``."""

    address: str
    temp_dir: Path


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    pytest.importorskip("ray", reason="ray is installed by `make install` (the ray extra)")
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
    # Ray kills workers when the whole machine nears 95% memory in use, whoever uses it; on a
    # shared test machine that is other processes: leave out-of-memory to the kernel.
    env["RAY_memory_monitor_refresh_ms"] = "0"
    with ray_head(free_port(), 2, temp_dir, env) as address:
        yield RayCluster(address=address, temp_dir=temp_dir)
