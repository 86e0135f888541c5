"""Torch's intra-op threads, fitted to the cores other processes leave free.

OpenMP threads wait for each other at the end of every parallel op. openrft lets a waiting
thread spin briefly before it sleeps (``GOMP_SPINCOUNT``, set in ``openrft/__init__`` before
torch loads OpenMP): back-to-back small ops, which decoding is made of, then find their
siblings awake. But a thread spinning for a sibling that another process holds off its core
wastes its time slice. So the rollout engine and the training pass call ``fit_threads()`` as
they go: it sets torch's thread count to the cores this process's CPUs had idle of other
processes' work over the last interval (system-wide CPU time minus this process's own, from
psutil), never above the configured count and never below 1. Measured on the 2-core machine
(bench/threads.py, bench/README.md): rollouts of the learning workload ran at 168 tokens/s with
sleeping threads (``OMP_WAIT_POLICY=PASSIVE``), 272 with brief spinning; with another process
on one core, 132 (sleeping), 81 (spinning, 2 threads) and 176 (spinning, fitted to 1 thread).

Work that calls torch goes through ``in_compute``, so a process has one OpenMP pool (see
``_COMPUTE``). ``OPENRFT_FIT_THREADS=0`` keeps the count fixed: a float result can depend on
the thread count, so a run meant to be bit-reproducible on a machine whose load varies should
set it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psutil
import torch

T = TypeVar("T")

# The shortest interval a fit measures; calls in between keep the current count.
MIN_INTERVAL_S = 1.0
# Fields of a CPU's time that are work (Linux counts guest time inside user and nice).
_WORK_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")


class ThreadFitter:
    """Fits torch's thread count to the free cores of this process's CPUs (see module doc)."""

    def __init__(self, max_threads: int) -> None:
        self.max_threads = max_threads
        self._cpus = sorted(os.sched_getaffinity(0))
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._clock = time.monotonic
        self._mark = self._sample()

    def fit(self) -> int:
        """Set and return the thread count for the next stretch of work (cheap to call often:
        the CPU times are read only once an interval has passed)."""
        with self._lock:
            if self._clock() - self._mark[0] >= MIN_INTERVAL_S:
                now = self._sample()
                others = (now[1] - self._mark[1]) - (now[2] - self._mark[2])
                free = len(self._cpus) - max(0.0, others) / (now[0] - self._mark[0])
                torch.set_num_threads(max(1, min(self.max_threads, round(free))))
                self._mark = now
            return torch.get_num_threads()

    def _sample(self) -> tuple[float, float, float]:
        """(monotonic time, work seconds of this process's CPUs, this process's CPU seconds)."""
        per_cpu = psutil.cpu_times(percpu=True)
        work = sum(getattr(per_cpu[i], f, 0.0) for i in self._cpus for f in _WORK_FIELDS)
        own = self._process.cpu_times()
        return self._clock(), work, own.user + own.system


_fitter: ThreadFitter | None = None
# The thread that runs this process's torch work (model loading, rollouts, training passes):
# libgomp gives each thread that starts parallel work a pool of its own, and once a process
# holds more OpenMP threads than CPUs it cuts every spin to 100 rounds. Measured: a rollout
# started from a second thread took 10.7 s instead of 6.6 s, as slow as never spinning.
_COMPUTE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openrft-torch")


async def in_compute(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the process's torch thread, awaited (the event loop runs
    meanwhile)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_COMPUTE, functools.partial(fn, *args, **kwargs))


def set_max_threads(threads: int) -> None:
    """The most threads torch may use in this process (a setting such as
    ``OPENRFT_TRAINING_THREADS``); ``fit_threads`` stays at or under it."""
    global _fitter
    torch.set_num_threads(threads)
    if _fitter is not None:
        _fitter.max_threads = threads


def fit_threads() -> int:
    """Fit torch's thread count now (at most once per ``MIN_INTERVAL_S``); the count."""
    global _fitter
    if os.environ.get("OPENRFT_FIT_THREADS", "1") == "0":
        return torch.get_num_threads()
    if _fitter is None:
        _fitter = ThreadFitter(torch.get_num_threads())
    return _fitter.fit()
