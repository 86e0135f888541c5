"""The local Ray cluster fixture runs work: a task and an actor with fractional CPUs."""

from __future__ import annotations

import pytest

from tests.integration.ray.conftest import RayCluster

ray = pytest.importorskip("ray")


def test_cluster_runs_a_task_and_an_actor(ray_cluster: RayCluster) -> None:
    ray.init(address=ray_cluster.address, log_to_driver=False)
    try:

        @ray.remote(num_cpus=0.25)
        def square(x: int) -> int:
            return x * x

        @ray.remote(num_cpus=0.25)
        class Counter:
            def __init__(self) -> None:
                self.total = 0

            def add(self, x: int) -> int:
                self.total += x
                return self.total

        assert ray.get([square.remote(i) for i in range(4)], timeout=120) == [0, 1, 4, 9]
        counter = Counter.remote()  # type: ignore[attr-defined]
        assert ray.get([counter.add.remote(2), counter.add.remote(3)], timeout=120) == [2, 5]
        assert ray.cluster_resources()["CPU"] == 2.0
    finally:
        ray.shutdown()
