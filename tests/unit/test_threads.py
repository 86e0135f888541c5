"""openrft.threads: torch's thread count fitted to the cores other processes leave free."""

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import torch

from openrft import threads
from openrft.threads import ThreadFitter


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _scripted(fitter: ThreadFitter, cpus: int, samples: list[tuple[float, float, float]]) -> None:
    """Make ``fitter`` see ``cpus`` CPUs and, at each call, the time and readings of the next
    of ``samples`` (time, CPU work, own CPU)."""
    fitter._cpus = list(range(cpus))
    upcoming = list(samples)
    fitter._clock = lambda: upcoming[0][0]
    fitter._sample = lambda: upcoming.pop(0)  # type: ignore[method-assign]
    fitter._mark = fitter._sample()


@pytest.mark.parametrize(
    ("others_cores", "max_threads", "expected"),
    [(0.0, 2, 2), (0.4, 2, 2), (0.7, 2, 1), (1.0, 2, 1), (3.0, 2, 1), (0.0, 1, 1), (1.0, 4, 1)],
)
def test_threads_are_the_cores_other_processes_left_free(
    others_cores: float, max_threads: int, expected: int
) -> None:
    """Over 2 s, this process used 1.5 CPU-seconds of its own and other processes
    ``others_cores`` of a core: the count is the rounded rest, within [1, max]."""
    fitter = ThreadFitter(max_threads)
    own = 1.5
    _scripted(fitter, 2, [(0.0, 10.0, 5.0), (2.0, 10.0 + own + 2 * others_cores, 5.0 + own)])
    assert fitter.fit() == expected == torch.get_num_threads()


def test_a_fit_measures_at_least_min_interval() -> None:
    fitter = ThreadFitter(2)
    torch.set_num_threads(2)
    upcoming = [(0.0, 0.0, 0.0), (1.2, 1.2, 0.0), (3.0, 1.2, 0.0)]
    _scripted(fitter, 2, upcoming)
    clock = fitter._clock
    fitter._clock = lambda: 0.5
    assert fitter.fit() == 2  # half a second: too short to tell, unchanged, nothing read
    fitter._clock = clock
    assert fitter.fit() == 1  # 1.2 s with another process on one core (1.2 CPU-s of others)
    assert fitter.fit() == 2  # then 1.8 s with nothing else running


def test_set_max_threads_caps_later_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    fitter = ThreadFitter(2)
    _scripted(fitter, 2, [(0.0, 0.0, 0.0), (2.0, 0.0, 0.0)])
    monkeypatch.setattr(threads, "_fitter", fitter)
    threads.set_max_threads(1)
    assert torch.get_num_threads() == 1 and threads.fit_threads() == 1


def test_fitting_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    fitter = ThreadFitter(2)
    _scripted(fitter, 2, [(0.0, 0.0, 0.0), (2.0, 4.0, 0.0)])  # both cores busy elsewhere
    monkeypatch.setattr(threads, "_fitter", fitter)
    monkeypatch.setenv("OPENRFT_FIT_THREADS", "0")
    torch.set_num_threads(2)
    assert threads.fit_threads() == 2


def test_another_process_spinning_is_measured_as_others_work() -> None:
    """The real readings (psutil): a spinning child counts as other work, not as ours."""
    fitter = ThreadFitter(2)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # the interpreter is up and spinning
        start = fitter._sample()
        time.sleep(1.5)
        end = fitter._sample()
    finally:
        spinner.kill()
        spinner.wait()
    others = ((end[1] - start[1]) - (end[2] - start[2])) / (end[0] - start[0])
    own = (end[2] - start[2]) / (end[0] - start[0])
    assert others >= 0.5 and own < 0.2
