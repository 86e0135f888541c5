"""A job's worker actors on the real local cluster: a stalled or dead actor ends the call with an
error naming it and its node, never a hang; an actor's own exception comes back as it is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from openrft.domain.jobs import JobSpec, JobStatus
from openrft.settings import Settings
from openrft.training.ray_workers import RoleActor, WorkerActorLost, worker_group
from tests.integration.ray.conftest import RayCluster

ray = pytest.importorskip("ray")

SPEC = JobSpec(
    id="ftjob-groups",
    project="default",
    model="tiny-random-llama",
    training_file_path=None,
    validation_file_path=None,
    seed=0,
    suffix=None,
    hyperparameters={"reward_workers": 2},
    grader={},
    resume_from=None,
    status=JobStatus.RUNNING,
)


class Events:
    """Records the runtime's events (the only part of it ``worker_group`` uses)."""

    def __init__(self) -> None:
        self.data: list[dict[str, Any]] = []

    def add_event(self, job_id: str, message: str, **kwargs: Any) -> None:
        self.data.append(kwargs.get("data") or {})


@pytest.fixture
def connected(ray_cluster: RayCluster) -> Iterator[None]:
    ray.init(address=ray_cluster.address, namespace="openrft-test", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_stalled_dead_and_failing_workers(connected: None) -> None:
    class Napper(RoleActor):
        def nap(self, seconds: float) -> float:
            time.sleep(seconds)
            return seconds

        def fail(self) -> None:
            raise ValueError("the grader's own error")

    events = Events()
    with worker_group(
        "reward",
        SPEC,
        Settings(ray_actor_timeout_s=60.0),
        events,  # type: ignore[arg-type]
        Napper,
        (),
        resources={"num_cpus": 0.1},
        strategy="SPREAD",
    ) as group:
        (listed,) = events.data
        assert listed["ray_role"] == "reward" and listed["actors"] == group.names
        assert group.collect([actor.nap.remote(0.0) for actor in group.actors]) == [0.0, 0.0]

        with pytest.raises(ValueError, match="the grader's own error"):
            group.collect([actor.fail.remote() for actor in group.actors])

        group.timeout_s = 1.0
        stalled = rf"reward worker {group.names[1]} \(actor \w+ on node \w+ at [\d.]+\)"
        with pytest.raises(WorkerActorLost, match=stalled + r" did not answer within 1 s"):
            group.collect([group.actors[0].nap.remote(0.0), group.actors[1].nap.remote(30.0)])

        group.timeout_s = 60.0
        napping = group.actors[0].nap.remote(30.0)
        ray.kill(group.actors[0])
        dead = rf"reward worker {group.names[0]} \(actor \w+ on node \w+ at [\d.]+\) died"
        with pytest.raises(WorkerActorLost, match=dead):
            group.collect([napping])  # at once, not after the 30 s nap or the 60 s timeout
