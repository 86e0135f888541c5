from __future__ import annotations

import threading

from openrft.inference.batcher import BatchWorker, ServeJob, Take
from openrft.inference.requests import GenerationRequest, SamplingParams


def job(n: int, results: list, done_event: threading.Event | None = None) -> ServeJob:
    request = GenerationRequest([1], SamplingParams(max_new_tokens=1), n=n)

    def done(error: BaseException | None) -> None:
        results.append((request.n, error))
        if done_event is not None:
            done_event.set()

    return ServeJob(request, None, done)


def test_queued_jobs_run_together_and_failures_reach_every_job() -> None:
    batches: list[list[int]] = []
    gate, started = threading.Event(), threading.Event()

    def run_batch(jobs: list[ServeJob], take: Take) -> None:
        batches.append([j.request.n for j in jobs])
        started.set()
        gate.wait(5)
        if any(j.request.n == 3 for j in jobs):
            raise RuntimeError("boom")
        for j in jobs:
            j.done(None)

    results: list = []
    worker = BatchWorker(run_batch, name="t", max_rows=4, wait_s=0.0)
    worker.submit(job(1, results))
    started.wait(5)  # the first batch is running; the next three queue up behind it
    last = threading.Event()
    for n in (2, 2, 3):
        worker.submit(job(n, results, last if n == 3 else None))
    gate.set()
    last.wait(5)
    worker.close()
    assert batches == [[1], [2, 2], [3]]
    assert [(n, type(e).__name__) for n, e in results] == [
        (1, "NoneType"),
        (2, "NoneType"),
        (2, "NoneType"),
        (3, "RuntimeError"),
    ]


def test_running_batch_takes_accepted_jobs_and_defers_the_rest() -> None:
    taken: list[list[int]] = []
    batches: list[list[int]] = []
    started, queued, finished = threading.Event(), threading.Event(), threading.Event()

    def run_batch(jobs: list[ServeJob], take: Take) -> None:
        batches.append([j.request.n for j in jobs])
        if len(batches) == 1:
            started.set()
            queued.wait(5)
            joined = take(3, lambda j: j.request.n != 2)  # n == 2 "needs another adapter"
            taken.append([j.request.n for j in joined])
            jobs = jobs + joined
        for j in jobs:
            j.done(None)
        if len(batches) == 2:
            finished.set()

    results: list = []
    worker = BatchWorker(run_batch, name="t", max_rows=8, wait_s=0.0)
    worker.submit(job(1, results))
    started.wait(5)
    for n in (1, 2, 3):
        worker.submit(job(n, results))
    queued.set()
    finished.wait(5)
    worker.close()
    # 1 joined the running batch; 2 was refused and 3 did not fit in the rows left: next batch
    assert taken == [[1]]
    assert batches == [[1], [2, 3]]
    assert sorted(n for n, _ in results) == [1, 1, 2, 3]
