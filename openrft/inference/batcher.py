"""A worker thread per loaded model that runs queued generation requests in batches.

Requests that arrive while a batch decodes wait for the next one; the worker collects whatever
is queued (up to ``max_rows`` samples, waiting ``wait_s`` after the first) and decodes it all in
one engine call, so concurrent requests share every forward pass. The event loop never runs
torch: callers submit and get a callback from this thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
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


class BatchWorker:
    """Owns one thread; ``run_batch(jobs)`` must call each job's ``done`` exactly once."""

    def __init__(
        self,
        run_batch: Callable[[list[ServeJob]], None],
        *,
        name: str,
        max_rows: int = 64,
        wait_s: float = 0.005,
    ) -> None:
        self._run_batch = run_batch
        self._max_rows = max_rows
        self._wait_s = wait_s
        self._queue: queue.Queue[ServeJob | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"infer-{name}", daemon=True)
        self._thread.start()

    def submit(self, job: ServeJob) -> None:
        self._queue.put(job)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the running batch, then stop the thread (queued jobs are failed)."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._fail_queued()
                return
            jobs, stop = self._collect(first)
            try:
                self._run_batch(jobs)
            except BaseException as exc:  # the worker must survive any batch failure
                log.exception("generation batch failed")
                for job in jobs:
                    job.done(exc)
            if stop:
                self._fail_queued()
                return

    def _collect(self, first: ServeJob) -> tuple[list[ServeJob], bool]:
        """``first`` plus what arrives within ``wait_s``, up to ``max_rows`` samples."""
        jobs, rows = [first], first.request.n
        deadline = time.monotonic() + self._wait_s
        while rows < self._max_rows:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            rows += job.request.n
        return jobs, False

    def _fail_queued(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.done(RuntimeError("the model server is shutting down"))
