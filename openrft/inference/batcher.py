"""A worker thread per loaded model that runs queued generation requests in batches.

The worker starts a batch with whatever is queued (up to ``max_rows`` samples, waiting
``wait_s`` after the first request) and, while it decodes, hands queued requests to the running
batch between steps (``take``), so concurrent requests share every forward pass. Requests the
batch cannot take (e.g. an adapter that is not attached yet) wait for the next batch. The event
loop never runs torch: callers submit and get a callback from this thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openrft.inference.requests import GenerationRequest

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ServeJob:
    """One request for the worker; ``done(None)`` or ``done(error)`` is called on its thread."""

    request: GenerationRequest
    adapter_dir: Path | None
    done: Callable[[BaseException | None], None]


# take(max_rows, accept) → queued jobs with at most max_rows samples that ``accept`` allows.
Take = Callable[[int, Callable[[ServeJob], bool]], list[ServeJob]]


class BatchWorker:
    """Owns one thread; ``run_batch(jobs, take)`` must call each job's ``done`` exactly once,
    including for the jobs it takes while running."""

    def __init__(
        self,
        run_batch: Callable[[list[ServeJob], Take], None],
        *,
        name: str,
        max_rows: int = 64,
        wait_s: float = 0.005,
    ) -> None:
        self._run_batch = run_batch
        self._max_rows = max_rows
        self._wait_s = wait_s
        self._queue: queue.Queue[ServeJob | None] = queue.Queue()
        self._deferred: deque[ServeJob] = deque()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"infer-{name}", daemon=True)
        self._thread.start()

    def submit(self, job: ServeJob) -> None:
        self._queue.put(job)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the running batch, then stop the thread (queued jobs are failed)."""
        self._queue.put(None)
        self._thread.join(timeout)

    def take(self, max_rows: int, accept: Callable[[ServeJob], bool]) -> list[ServeJob]:
        """Non-blocking: deferred then queued jobs that ``accept`` allows, up to ``max_rows``
        samples; the others are deferred to the next batch. Worker thread only."""
        taken: list[ServeJob] = []
        candidates = list(self._deferred)
        self._deferred.clear()
        while not self._stopping:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._stopping = True
            else:
                candidates.append(job)
        rows = 0
        for job in candidates:
            if rows + job.request.n <= max_rows and accept(job):
                taken.append(job)
                rows += job.request.n
            else:
                self._deferred.append(job)
        return taken

    def _loop(self) -> None:
        while not self._stopping:
            first = self._deferred.popleft() if self._deferred else self._queue.get()
            if first is None:
                break
            jobs = [first, *self._collect(first.request.n)]
            try:
                self._run_batch(jobs, self.take)
            except BaseException as exc:  # the worker must survive any batch failure
                log.exception("generation batch failed")
                for job in jobs:
                    job.done(exc)
        self._fail_queued()

    def _collect(self, rows: int) -> list[ServeJob]:
        """What arrives within ``wait_s`` (after deferred jobs), up to ``max_rows`` samples."""
        jobs: list[ServeJob] = []
        while self._deferred and rows + self._deferred[0].request.n <= self._max_rows:
            jobs.append(self._deferred.popleft())
            rows += jobs[-1].request.n
        deadline = time.monotonic() + self._wait_s
        while rows < self._max_rows and not self._stopping:
            try:
                queued = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if queued is None:
                self._stopping = True
                break
            jobs.append(queued)
            rows += queued.request.n
        return jobs

    def _fail_queued(self) -> None:
        pending = list(self._deferred)
        self._deferred.clear()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                pending.append(job)
        for job in pending:
            job.done(RuntimeError("the model server is shutting down"))
