"""A job's Ray actors of one role (rollout, trainer or reward workers): placed together, called
together, and never waited on forever.

``worker_group`` reserves one placement-group bundle per actor (``PACK`` keeps trainers'
all-reduce on one node when it fits; ``SPREAD`` puts generation and grading on as many nodes as
it can), names each actor ``{role}-{job_id}-{rank}-{run}`` in the job's namespace, waits until
every actor has loaded what it needs, and kills the actors and frees the bundles when the job's
loop ends. ``WorkerGroup.collect`` returns the answers of one call per actor in rank order; an
actor that dies, or does not answer within ``OPENRFT_RAY_ACTOR_TIMEOUT_S``, raises
``WorkerActorLost`` naming it and its node. The job's process lets that error end it and the Ray
executor resumes the job from its latest checkpoint in a new actor (the step is retried), or
fails it with that message once ``OPENRFT_RAY_MAX_RESTARTS`` is spent.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from openrft.domain.jobs import JobSpec
from openrft.executors.ray_resources import NODE_RESOURCE, describe, job_resources
from openrft.settings import Settings

if TYPE_CHECKING:  # the worker imports ``WorkerActorLost`` before torch
    from openrft.training.config import TrainConfig
    from openrft.training.controller import TrainingRuntime
    from openrft.training.policy import Policy

Strategy = Literal["PACK", "SPREAD"]
PEER_GRACE_S = 10.0  # after one actor's own error, how long its peers may take to be seen dead


class WorkerActorLost(RuntimeError):
    """One of the job's worker actors died or did not answer in time (the message names the
    actor and its node). Not a failure of the job: the Ray executor resumes it."""


class RoleActor:
    """Base of the worker actors: ``where`` says which actor and node answered."""

    def where(self) -> str:
        import ray

        context = ray.get_runtime_context()
        return (
            f"actor {context.get_actor_id()} on node {context.get_node_id()} at "
            f"{ray.util.get_node_ip_address()}"
        )


def on_ray(spec: JobSpec, runtime: TrainingRuntime, name: str, instead: str) -> bool:
    """True when the job runs inside a Ray cluster; else one warning event: ``name`` (a
    hyperparameter asking for more than one worker) falls back to ``instead``."""
    import ray

    if ray.is_initialized():
        return True
    runtime.add_event(
        spec.id,
        f"{name}={spec.hyperparameters[name]} needs serve --executor ray; {instead} in the "
        "job's own process.",
        level="warn",
    )
    return False


def shares(count: int, workers: int) -> list[slice]:
    """Contiguous slices of ``range(count)`` for ``workers``, sizes differing by at most one
    (empty slices left out)."""
    size, extra = divmod(count, workers)
    out, start = [], 0
    for i in range(workers):
        stop = start + size + (1 if i < extra else 0)
        if stop > start:
            out.append(slice(start, stop))
        start = stop
    return out


@dataclass
class WorkerGroup:
    """``actors[rank]`` is called ``names[rank]`` and runs at ``places[rank]``."""

    role: str
    actors: list[Any]  # ray.actor.ActorHandle
    names: list[str]
    placement: Any  # ray.util.placement_group.PlacementGroup
    timeout_s: float
    places: list[str]

    def describe(self, rank: int) -> str:
        place = self.places[rank] if rank < len(self.places) else "not started yet"
        return f"{self.role} worker {self.names[rank]} ({place})"

    def collect(self, refs: Sequence[Any]) -> list[Any]:
        """The answers of ``refs`` (``refs[i]`` a call on ``actors[i]``), in order.

        Raises ``WorkerActorLost`` as soon as one actor is dead, or when some have not answered
        within ``timeout_s``. An exception raised by an actor's own code is re-raised as it is,
        unless a peer turns out dead within ``PEER_GRACE_S``: a collective fails on every rank
        when one rank's process dies, and the death is what to report."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        refs = list(refs)
        answers: dict[int, Any] = {}
        errors: list[BaseException] = []
        pending = refs
        deadline = time.monotonic() + self.timeout_s
        while pending:
            ready, pending = ray.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                if errors:
                    raise errors[0]
                late = "; ".join(self.describe(refs.index(ref)) for ref in pending)
                raise WorkerActorLost(
                    f"The job's {late} did not answer within {self.timeout_s:g} s "
                    "(OPENRFT_RAY_ACTOR_TIMEOUT_S)."
                )
            for ref in ready:
                rank = refs.index(ref)
                try:
                    answers[rank] = ray.get(ref)
                except RayTaskError as exc:
                    errors.append(exc.cause)
                    deadline = min(deadline, time.monotonic() + PEER_GRACE_S)
                except RayError as exc:
                    first = next((ln for ln in str(exc).splitlines() if ln.strip()), "")
                    raise WorkerActorLost(
                        f"The job's {self.describe(rank)} died: {first.strip()}"
                    ) from None
        if errors:
            raise errors[0]
        return [answers[rank] for rank in range(len(refs))]

    def kill(self) -> None:
        import ray
        from ray.util.placement_group import remove_placement_group

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        remove_placement_group(self.placement)


def bundle(resources: Mapping[str, float]) -> dict[str, float]:
    """One placement-group bundle for actor options ``resources`` (``num_cpus`` → ``CPU``)."""
    return {NODE_RESOURCE[key]: value for key, value in resources.items() if value > 0}


@contextmanager
def worker_group(
    role: str,
    spec: JobSpec,
    settings: Settings,
    runtime: TrainingRuntime,
    actor_class: type,
    args: tuple[Any, ...],
    *,
    resources: Mapping[str, float],
    strategy: Strategy,
) -> Iterator[WorkerGroup]:
    """``{role}_workers`` actors ``actor_class(*args)`` with ``resources`` each, ready to call;
    one event lists them (``data``: ``ray_role``, ``workers``, ``actors``: their names)."""
    import ray
    from ray.util.placement_group import placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    count = int(spec.hyperparameters[f"{role}_workers"])
    timeout_s = settings.ray_actor_timeout_s
    run = secrets.token_hex(3)
    placement = placement_group([bundle(resources)] * count, strategy=strategy)
    names = [f"{role}-{spec.id}-{rank}-{run}" for rank in range(count)]
    actors: list[Any] = [
        ray.remote(actor_class)
        .options(
            name=name,
            max_restarts=0,
            **resources,
            scheduling_strategy=PlacementGroupSchedulingStrategy(placement, rank),
        )
        .remote(*args)
        for rank, name in enumerate(names)
    ]
    group = WorkerGroup(role, actors, names, placement, timeout_s, places=[])
    try:
        if not ray.wait([placement.ready()], timeout=timeout_s)[0]:
            raise RuntimeError(
                f"Ray could not reserve {count} x ({describe(resources)}) for the job's {role} "
                f"workers within {timeout_s:g} s: the cluster has no room for them beside the "
                f"job's own actor. Lower `{role}_workers` or `resources`, or add nodes."
            )
        group.places = group.collect([actor.where.remote() for actor in actors])
        described = [group.describe(rank) for rank in range(count)]
        runtime.add_event(
            spec.id,
            f"{count} Ray {role} workers ({describe(resources)} each): {'; '.join(described)}.",
            data={"ray_role": role, "workers": described, "actors": names},
        )
        yield group
    finally:
        group.kill()


@contextmanager
def model_workers(
    role: str,
    spec: JobSpec,
    config: TrainConfig,
    settings: Settings,
    runtime: TrainingRuntime,
    actor_class: type,
    *,
    strategy: Strategy,
) -> Iterator[WorkerGroup]:
    """A ``worker_group`` whose actors each hold a copy of the job's model: ``actor_class(model,
    config, cache_dir, threads)`` (see ``load_policy``), each reserving the job's ``resources``."""
    cache = str(settings.resolved_model_cache_dir.resolve())
    args = (spec.model, config, cache, settings.training_threads)
    resources = job_resources(settings, spec.hyperparameters)
    with worker_group(
        role, spec, settings, runtime, actor_class, args, resources=resources, strategy=strategy
    ) as group:
        yield group


def load_policy(
    model: str, config: TrainConfig, cache_dir: str, threads: int | None, *, beta: float
) -> Policy:
    """An actor's copy of the job's policy, built as the job builds its own (its trained
    tensors are then loaded from the job's)."""
    from openrft.threads import set_max_threads
    from openrft.training import policy

    if threads:
        set_max_threads(threads)
    return policy.load_policy(model, config, Path(cache_dir), beta=beta)
