"""The Ray scheduler: the local scheduler's job lifecycle, with each job run by a Ray actor.

Claiming, fairness, cancel grace, wall time, pause on shutdown and every status change are the
``LocalExecutor``'s (one ``JobRepository.transition``); only where the worker runs differs. A
claimed job gets a ``JobActor`` with the job's resources (``ray_resources.job_resources``);
its Ray ids go into an event once Ray has placed it. When the actor or its node dies while the
job is still ``running`` — or the job's process ends because one of its rollout, trainer or
reward worker actors died or stalled (``WorkerActorLost``) — the job resumes in a new actor from
its latest checkpoint (at most ``OPENRFT_RAY_MAX_RESTARTS`` times), or fails with an error naming
the actor and node.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError
from sqlalchemy.orm import Session, sessionmaker

from openrft.db.jobs_repo import CheckpointRepository, JobRepository
from openrft.domain.jobs import JobStatus
from openrft.executors.local import (
    LocalExecutor,
    WorkerRun,
    log_tail,
    pid_alive,
    worker_settings_env,
)
from openrft.executors.ray_actor import JobActor
from openrft.executors.ray_address import RayUnreachableError, check_ray_address
from openrft.executors.ray_resources import describe, job_resources, unplaceable_reason
from openrft.settings import Settings
from openrft.training.ray_workers import WorkerActorLost

log = logging.getLogger(__name__)

NAMESPACE = "openrft"
ACTOR_DIED = -1  # the "exit code" of a run whose actor Ray reports dead
DEATH_LINES = 3  # Ray's death messages are long; the first lines name the cause


def connect(address: str | None) -> None:
    """``ray.init`` against an existing cluster, after a quick reachability check."""
    check_ray_address(address)
    try:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
    except (ConnectionError, RuntimeError, RayError) as exc:
        raise RayUnreachableError(f"Cannot join the Ray cluster at {address}: {exc}") from exc


@dataclass
class RayRun:
    """One ``run`` call of a job's actor, seen by the scheduler as a worker process."""

    actor: Any  # ray.actor.ActorHandle
    where_ref: Any  # ObjectRef → JobActor.where()
    run_ref: Any  # ObjectRef → JobActor.run(job_id)
    resources: dict[str, float]
    restarts: int = 0
    launched_at: float = field(default_factory=time.monotonic)
    placement: dict[str, Any] | None = None
    returncode: int | None = None
    death: str | None = None  # why the actor died or gave up (naming the actor and node)
    unplaced: bool = False  # killed because Ray did not start it in time

    def poll(self) -> int | None:
        if self.returncode is None and ray.wait([self.run_ref], timeout=0)[0]:
            self._collect()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not ray.wait([self.run_ref], timeout=timeout)[0]:
                raise subprocess.TimeoutExpired("ray actor", timeout or 0.0)
            self._collect()
        assert self.returncode is not None
        return self.returncode

    def terminate(self) -> None:
        self.kill()

    def kill(self) -> None:
        ray.kill(self.actor, no_restart=True)

    def placed(self) -> dict[str, Any] | None:
        """The actor's Ray ids the first time they are known (then None again)."""
        if self.placement is not None or not ray.wait([self.where_ref], timeout=0)[0]:
            return None
        try:
            self.placement = ray.get(self.where_ref)
        except RayError:
            return None  # died before it answered: ``poll`` reports it
        return self.placement

    def _collect(self) -> None:
        try:
            self.returncode = int(ray.get(self.run_ref))
        except RayError as exc:
            self.returncode = ACTOR_DIED
            self.death = self._account(exc)
        ray.kill(self.actor)  # the job is over for this actor: give its resources back

    def _account(self, exc: RayError) -> str:
        """Why the run ended without an exit status, naming the actor and its node."""
        if isinstance(exc, RayTaskError) and isinstance(exc.cause, WorkerActorLost):
            return str(exc.cause)  # one of the job's worker actors died or stalled
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return f"The job's {self.who()} died: " + (
            " ".join(lines[:DEATH_LINES]) or type(exc).__name__
        )

    def who(self) -> str:
        """'Ray actor <id> on node <id> (<ip>)', as far as Ray told us before it died."""
        where = self.placement or {}
        actor = where.get("actor_id", "(not yet started)")
        node = where.get("node_id", "unknown")
        return f"Ray actor {actor} on node {node} ({where.get('node_ip', 'unknown address')})"


class RayExecutor(LocalExecutor):
    """``LocalExecutor`` whose workers are Ray actors on the cluster ``connect`` joined."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        settings: Settings,
        actor_env: dict[str, str],
        **kwargs: Any,
    ):
        super().__init__(sessions, data_dir=settings.data_dir, worker_env=actor_env, **kwargs)
        self.settings = settings
        self.actor_class = ray.remote(JobActor)

    @classmethod
    def from_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> RayExecutor:
        connect(settings.ray_address)
        return cls(
            sessions,
            settings=settings,
            actor_env=worker_settings_env(settings),
            max_concurrent_jobs=settings.max_concurrent_jobs,
            max_running_per_project=settings.max_running_jobs_per_project,
            max_job_seconds=settings.max_job_seconds,
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        super().stop(timeout_s)
        ray.shutdown()

    def tick(self) -> None:
        self._note_placements()
        self._resume_dead_actors()
        super().tick()

    def _spawn(self, job_id: str, restarts: int = 0) -> None:
        with self.sessions() as session:
            job = JobRepository(session).get(job_id)
        if job is None:
            return
        resources = job_resources(self.settings, job.hyperparameters)
        reason = unplaceable_reason(resources, ray.nodes())
        if reason is not None:
            self._fail(job_id, reason, code="resources_unavailable")
            return
        options = {**resources, "max_restarts": 0, "runtime_env": {"env_vars": self.worker_env}}
        actor: Any = self.actor_class.options(**options).remote()
        run = RayRun(actor, actor.where.remote(), actor.run.remote(job_id), resources, restarts)
        self.workers[job_id] = WorkerRun(job_id, run, self.log_dir / f"{job_id}.log")
        with self.sessions.begin() as session:
            JobRepository(session).update(job_id, worker=f"{self.name}:ray")

    def _note_placements(self) -> None:
        """Record each new actor's Ray ids; give up on one Ray has not started in time."""
        now = time.monotonic()
        for job_id, worker in self.workers.items():
            run = _ray_run(worker)
            where = run.placed()
            if where is not None:
                self._record_placement(job_id, run, where)
            elif (
                run.placement is None
                and worker.killed is None
                and now - run.launched_at > self.settings.ray_start_timeout_s
            ):
                log.warning("Ray did not start the actor of %s in time", job_id)
                run.unplaced = True
                worker.killed = "unplaced"
                run.kill()

    def _record_placement(self, job_id: str, run: RayRun, where: dict[str, Any]) -> None:
        message = (
            f"Running on Ray: actor {where['actor_id']} (Ray job {where['ray_job_id']}) on node "
            f"{where['node_id']} at {where['node_ip']}, pid {where['pid']}; "
            f"resources {describe(run.resources)}"
        )
        with self.sessions.begin() as session:
            jobs = JobRepository(session)
            jobs.update(job_id, expect={JobStatus.RUNNING}, worker=self._worker_id(where))
            jobs.record_event(job_id, message, data={"ray": where, "resources": run.resources})

    def _worker_id(self, where: dict[str, Any]) -> str:
        return f"{self.name}:ray:{where['actor_id']}"

    def _resume_dead_actors(self) -> None:
        """A running job whose actor died (not killed by us) resumes from its latest
        checkpoint in a new actor while restarts remain; otherwise ``_reap`` fails it."""
        if self._stop.is_set():
            return
        for job_id, worker in list(self.workers.items()):
            run = _ray_run(worker)
            if run.poll() is None or run.death is None or worker.killed is not None:
                continue
            with self.sessions() as session:
                job = JobRepository(session).get(job_id)
                latest = CheckpointRepository(session).latest(job_id)
            if job is None or job.status != JobStatus.RUNNING or job.control is not None:
                continue
            if latest is None or run.restarts >= self.settings.ray_max_restarts:
                continue
            message = (
                f"{run.death} Resuming from the checkpoint of step "
                f"{latest.step_number} in a new actor (restart {run.restarts + 1} of at most "
                f"{self.settings.ray_max_restarts})."
            )
            with self.sessions.begin() as session:
                JobRepository(session).record_event(job_id, message, level="warn")
            del self.workers[job_id]
            self._spawn(job_id, restarts=run.restarts + 1)

    def _fail_exited(self, job_id: str, worker: WorkerRun, code: int) -> None:
        run = _ray_run(worker)
        if run.unplaced:
            self._fail(
                job_id,
                f"Ray did not start the job's actor ({describe(run.resources)}) within "
                f"{self.settings.ray_start_timeout_s:g} s (OPENRFT_RAY_START_TIMEOUT_S): no "
                "node had those resources free.",
                code="resources_unavailable",
            )
        elif run.death is not None and worker.killed is None and not self._stop.is_set():
            with self.sessions() as session:
                latest = CheckpointRepository(session).latest(job_id)
            why = (
                "it had no checkpoint to resume from"
                if latest is None
                else f"it already resumed {run.restarts} times (OPENRFT_RAY_MAX_RESTARTS)"
            )
            self._fail(
                job_id,
                f"{run.death} The job did not resume: {why}. "
                f"Last lines of its log:\n{log_tail(worker.log_path)}",
            )
        else:
            super()._fail_exited(job_id, worker, code)

    def _sweep_orphans(self) -> None:
        """Also fail running Ray jobs of this host whose server is gone: Ray ends an actor
        with the process that created it, so nothing runs them any more."""
        super()._sweep_orphans()
        with self.sessions() as session:
            running = JobRepository(session).running_workers()
        host = socket.gethostname()
        for job_id, worker in running.items():
            parts = (worker or "").split(":")
            if job_id in self.workers or len(parts) < 3 or parts[2] != "ray":
                continue
            if parts[0] == host and parts[1].isdigit() and not pid_alive(int(parts[1])):
                actor = parts[3] if len(parts) > 3 else "(not yet started)"
                self._fail(
                    job_id,
                    f"The server (pid {parts[1]}) that started this job's Ray actor {actor} "
                    "stopped, and Ray ended the actor with it; the job did not finish.",
                )


def _ray_run(worker: WorkerRun) -> RayRun:
    assert isinstance(worker.process, RayRun)
    return worker.process
