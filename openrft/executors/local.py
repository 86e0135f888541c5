"""The local scheduler: claims queued jobs from the database and runs each in a subprocess.

Claiming is a compare-and-set (``queued → running``), so several API replicas can share one
PostgreSQL. The worker talks only to the database and the blob store; this loop watches it,
enforces the cancel grace period and fails a job whose worker exits without finishing it.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.jobs_repo import JobRepository
from openrft.domain.jobs import JobStatus
from openrft.executors.exits import classify_exit
from openrft.executors.fair import QUEUE_WINDOW, claim_order
from openrft.settings import Settings

log = logging.getLogger(__name__)

WorkerCommand = Callable[[str], list[str]]
LOG_TAIL_LINES = 20


def default_worker_command(job_id: str) -> list[str]:
    return [sys.executable, "-m", "openrft.worker", job_id]


def worker_settings_env(settings: Settings) -> dict[str, str]:
    """The ``OPENRFT_*`` environment a worker needs: these settings (flags given to ``serve``
    too, never the API key) with the data dir and database it must share with this server."""
    return {
        **settings.environment(),
        "OPENRFT_DATA_DIR": str(settings.data_dir.resolve()),
        "OPENRFT_DATABASE_URL": settings.resolved_database_url,
        # Model graders in the worker call this server's own /v1 (see grader_context).
        "OPENRFT_HOST": settings.host,
        "OPENRFT_PORT": str(settings.port),
        # Read when the worker's OpenMP starts, before any of its code runs (see openrft/__init__).
        **{k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ},
    }


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a worker log ('' when there is none)."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerProcess(Protocol):
    """What the scheduler needs of a running worker: a ``subprocess.Popen`` here, a Ray actor's
    run in ``executors.ray_executor``. ``wait`` raises ``subprocess.TimeoutExpired``."""

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


@dataclass
class WorkerRun:
    job_id: str
    process: WorkerProcess
    log_path: Path
    cancel_seen_at: float | None = None
    started_at: float = field(default_factory=time.monotonic)
    killed: str | None = None  # why the scheduler killed it: "cancel" or "timeout"


class LocalExecutor:
    """Runs up to ``max_concurrent_jobs`` workers; ``tick()`` is one scheduling pass."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        data_dir: Path,
        worker_env: dict[str, str],
        max_concurrent_jobs: int = 1,
        max_running_per_project: int | None = None,
        max_job_seconds: float | None = None,
        worker_command: WorkerCommand = default_worker_command,
        poll_interval_s: float = 0.5,
        cancel_grace_s: float = 30.0,
    ):
        self.sessions = sessions
        self.log_dir = data_dir / "logs"
        self.worker_env = worker_env
        self.max_concurrent_jobs = max_concurrent_jobs
        self.max_running_per_project = max_running_per_project
        self.max_job_seconds = max_job_seconds
        self.worker_command = worker_command
        self.poll_interval_s = poll_interval_s
        self.cancel_grace_s = cancel_grace_s
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.workers: dict[str, WorkerRun] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> LocalExecutor:
        prefix = settings.worker_command
        command = (lambda job_id: [*prefix, job_id]) if prefix else default_worker_command
        return cls(
            sessions,
            data_dir=settings.data_dir,
            worker_env={
                **{k: v for k, v in os.environ.items() if k != "OPENRFT_API_KEY"},
                **worker_settings_env(settings),
            },
            max_concurrent_jobs=settings.max_concurrent_jobs,
            max_running_per_project=settings.max_running_jobs_per_project,
            max_job_seconds=settings.max_job_seconds,
            worker_command=command,
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="openrft-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop scheduling; ask running workers to checkpoint and pause (up to ``timeout_s``),
        then requeue those jobs so they resume when a server starts again. A worker that has
        not paused by then is terminated and its job failed."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        asked = self._request_pause()
        deadline = time.monotonic() + timeout_s
        for worker in self.workers.values():
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.terminate()
        for worker in self.workers.values():
            try:
                worker.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        self._reap()
        self._requeue(asked)

    def _request_pause(self) -> list[str]:
        """Set ``control = pause`` on running jobs that have no other request pending."""
        asked = []
        with self.sessions.begin() as session:
            jobs = JobRepository(session)
            for job_id in self.workers:
                job = jobs.get(job_id)
                if job is not None and job.control is None:
                    jobs.update(job_id, expect={JobStatus.RUNNING}, control="pause")
                    asked.append(job_id)
        return asked

    def _requeue(self, job_ids: list[str]) -> None:
        with self.sessions.begin() as session:
            jobs = JobRepository(session)
            for job_id in job_ids:
                jobs.transition(
                    job_id,
                    JobStatus.QUEUED,
                    source=JobStatus.PAUSED,
                    message="The server is shutting down: job checkpointed and requeued; it "
                    "resumes from its latest checkpoint when the server starts again",
                )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler pass failed")
            self._stop.wait(self.poll_interval_s)

    def tick(self) -> None:
        """Reap exited workers, kill ones that ignore cancel, start queued jobs."""
        self._reap()
        self._sweep_orphans()
        self._enforce_cancel_grace()
        self._enforce_wall_time()
        while len(self.workers) < self.max_concurrent_jobs and not self._stop.is_set():
            job_id = self._claim()
            if job_id is None:
                return
            self._spawn(job_id)

    def _claim(self) -> str | None:
        """Compare-and-set a queued job to running, fairly across projects (``claim_order``);
        None when nothing can start."""
        with self.sessions.begin() as session:
            jobs = JobRepository(session)
            order = claim_order(
                jobs.queued_with_projects(QUEUE_WINDOW),
                jobs.running_per_project(),
                self.max_running_per_project,
            )
            for job_id in order:
                if jobs.transition(
                    job_id,
                    JobStatus.RUNNING,
                    source=JobStatus.QUEUED,
                    message="Fine-tuning job started",
                    worker=self.name,
                ):
                    return job_id
        return None

    def _spawn(self, job_id: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{job_id}.log"
        try:
            with log_path.open("ab") as out:
                process = subprocess.Popen(
                    self.worker_command(job_id),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.worker_env,
                    start_new_session=True,
                )
        except OSError as exc:
            self._fail(job_id, f"Could not start the training worker: {exc}")
            return
        self.workers[job_id] = WorkerRun(job_id, process, log_path)
        with self.sessions.begin() as session:
            JobRepository(session).update(job_id, worker=f"{self.name}:{process.pid}")

    def _sweep_orphans(self) -> None:
        """Fail running jobs of this host whose worker process is gone but is not ours to
        reap (its server stopped or crashed); other hosts' jobs are theirs to watch."""
        with self.sessions() as session:
            running = JobRepository(session).running_workers()
        host = socket.gethostname()
        for job_id, worker in running.items():
            if job_id in self.workers or not worker:
                continue
            parts = worker.split(":")
            if len(parts) != 3 or parts[0] != host or not parts[2].isdigit():
                continue
            if not pid_alive(int(parts[2])):
                self._fail(
                    job_id,
                    f"The training worker (pid {parts[2]}) is gone and the server that started "
                    "it stopped; the job did not finish.",
                )

    def _reap(self) -> None:
        for job_id, worker in list(self.workers.items()):
            code = worker.process.poll()
            if code is None:
                continue
            del self.workers[job_id]
            with self.sessions() as session:
                job = JobRepository(session).get(job_id)
            if job is None or job.status != JobStatus.RUNNING:
                continue
            if job.control == "cancel":
                self._end(job_id, JobStatus.CANCELLED, "Job cancelled", error=None)
                continue
            self._fail_exited(job_id, worker, code)

    def _fail_exited(self, job_id: str, worker: WorkerRun, code: int) -> None:
        tail = log_tail(worker.log_path)
        if worker.killed == "timeout":
            error_code, reason = (
                "job_timeout",
                (
                    f"it ran longer than the maximum job time of {self.max_job_seconds} s "
                    "(OPENRFT_MAX_JOB_SECONDS)"
                ),
            )
        elif self._stop.is_set():
            error_code, reason = "worker_died", "the server stopped it while shutting down"
        else:
            error_code, reason = classify_exit(code, tail, killed_by_us=worker.killed is not None)
        self._fail(
            job_id,
            f"The training worker did not finish the job: {reason}. Last lines of its log:\n{tail}",
            code=error_code,
        )

    def _enforce_wall_time(self) -> None:
        if self.max_job_seconds is None:
            return
        now = time.monotonic()
        for job_id, worker in self.workers.items():
            if worker.killed is None and now - worker.started_at > self.max_job_seconds:
                log.warning("killing worker of %s: over the maximum job time", job_id)
                worker.killed = "timeout"
                worker.process.kill()

    def _enforce_cancel_grace(self) -> None:
        now = time.monotonic()
        for job_id, worker in self.workers.items():
            with self.sessions() as session:
                job = JobRepository(session).get(job_id)
            if job is None or job.control != "cancel":
                continue
            worker.cancel_seen_at = worker.cancel_seen_at or now
            if now - worker.cancel_seen_at > self.cancel_grace_s:
                log.warning("killing worker of %s: it ignored cancel", job_id)
                worker.killed = "cancel"
                worker.process.kill()

    def _fail(self, job_id: str, message: str, code: str = "worker_died") -> None:
        error = {"code": code, "message": message, "param": None}
        self._end(job_id, JobStatus.FAILED, message, error=error)

    def _end(self, job_id: str, status: JobStatus, message: str, error: dict | None) -> None:
        with self.sessions.begin() as session:
            JobRepository(session).transition(
                job_id,
                status,
                source=JobStatus.RUNNING,
                message=message,
                level="error" if status == JobStatus.FAILED else "info",
                control=None,
                error=error,
                finished_at=int(time.time()),
            )
