"""Run a benchmark's measuring half in a child process, so its peak RSS is its own.

Every process the bench starts (measuring halves, ``openrft serve``, the busy-core spinner)
is tied to the bench's lifetime with ``die_with_bench``: a bench stopped by a signal it does
not handle (``kill``, a CI timeout) took none of them down, and a left-over ``openrft serve``
or measurement kept loading the machine that the next benchmark measured on.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# OpenMP's own default wait for a process that is not openrft's (TRL's side, the threads bench's
# baselines): libgomp spins 300,000 rounds when no policy is set. Set explicitly because
# bench/__init__ imports openrft, which keeps a spin count that is already set.
OPENMP_DEFAULT = {"GOMP_SPINCOUNT": "300000"}
# The native libraries' own defaults for TRL's side: OpenMP's wait as above, and oneDNN's
# primitive cache of 1,024 shapes (openrft bounds it to 64 when imported).
LIBRARY_DEFAULTS = {**OPENMP_DEFAULT, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "1024"}
# prctl(2): ask the kernel for a signal when the parent exits (Linux).
_PR_SET_PDEATHSIG = 1


def _end_with(parent: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent exited before the request was in place
        os._exit(1)


def die_with_bench() -> functools.partial[None]:
    """A ``preexec_fn`` for ``subprocess``: the child gets SIGTERM when this process exits,
    however it exits (Linux; elsewhere nothing changes). SIGTERM is also what the bench sends
    ``openrft serve`` when it stops it normally, so the server shuts its workers down the same
    way."""
    return functools.partial(_end_with, os.getpid())


def run_measurement(
    module: str, args: list[str], out: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``python -m module --worker RESULT args...``, with ``env`` added to this process's
    environment; the child writes RESULT, copied to ``out``."""
    with tempfile.TemporaryDirectory() as scratch:
        result_path = Path(scratch) / out.name
        command = [sys.executable, "-m", module, "--worker", str(result_path), *args]
        path = filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
        child_env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(path)}
        subprocess.run(
            command, cwd=REPO_ROOT, env=child_env, check=True, preexec_fn=die_with_bench()
        )
        result: dict[str, Any] = json.loads(result_path.read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


@contextmanager
def busy_core() -> Iterator[None]:
    """Another process spinning on one core meanwhile (a busy machine, as issue 19 saw it)."""
    spinner = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"], preexec_fn=die_with_bench()
    )
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Print ``result`` and write it to ``path`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
