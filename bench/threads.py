"""Thread settings on a busy machine: quiet and with one core kept busy (issue 19).

Each setting runs in a fresh process (OpenMP reads its environment once, when torch loads it):
2 threads with OpenMP's default wait (libgomp spins 300,000 rounds before sleeping), 1 thread,
2 threads with ``OMP_WAIT_POLICY=PASSIVE`` (never spin), 2 threads spinning briefly
(``GOMP_SPINCOUNT=10000``), and openrft's default: the brief spin with the thread count fitted
to the free cores before every step (``openrft.threads``). Two steps are timed: ``train``, a
stack of SmolLM2-135M-shaped linear layers (576 ↔ 1536, 512 tokens) forward and backward, and
``decode``, the same layers ×5 forward on 64 rows (a rollout's decode step: many small ops).
The median of ``--reps`` is reported. Output: ``bench/results/threads.json``. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.child import OPENMP_DEFAULT, REPO_ROOT, busy_core, die_with_bench, write_result

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "threads.json"
# (name, torch threads, OpenMP environment, fit threads to the free cores before each step)
SETTINGS: tuple[tuple[str, int, dict[str, str], bool], ...] = (
    ("2 threads, OpenMP default wait", 2, {}, False),
    ("1 thread", 1, {}, False),
    ("2 threads, OMP_WAIT_POLICY=PASSIVE", 2, {"OMP_WAIT_POLICY": "PASSIVE"}, False),
    ("2 threads, GOMP_SPINCOUNT=10000", 2, {"GOMP_SPINCOUNT": "10000"}, False),
    ("openrft: GOMP_SPINCOUNT=10000, threads fitted", 2, {"GOMP_SPINCOUNT": "10000"}, True),
)
KINDS = ("train", "decode")
_OPENMP_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")
# Runs in the child: torch (and openrft.threads when fitting), so the environment it was given
# is what OpenMP sees.
_CHILD = """
import statistics, sys, time
import torch
from openrft.threads import fit_threads, set_max_threads
threads, reps, kind, fit = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
set_max_threads(threads)
torch.manual_seed(0)
layers = [torch.nn.Linear(576, 1536), torch.nn.Linear(1536, 576)] * 3
def train():
    h = torch.randn(512, 576, requires_grad=True)
    for layer in layers:
        h = torch.nn.functional.silu(layer(h))
    h.square().mean().backward()
def decode():
    with torch.inference_mode():
        h = torch.randn(64, 576)
        for layer in layers * 5:
            h = torch.nn.functional.silu(layer(h))
step = train if kind == "train" else decode
def timed():
    if fit:
        fit_threads()
    start = time.perf_counter()
    step()
    return time.perf_counter() - start
warmup = time.perf_counter()
while time.perf_counter() - warmup < 1.5:  # long enough for a first fit
    timed()
print(statistics.median(timed() for _ in range(reps)) * 1000)
"""


def step_ms(setting: tuple[str, int, dict[str, str], bool], kind: str, reps: int) -> float:
    """Median milliseconds of one ``kind`` step in a fresh process with ``setting``."""
    _, threads, openmp, fit = setting
    env = {k: v for k, v in os.environ.items() if k not in _OPENMP_VARIABLES}
    # openrft's own default must not leak into the settings that are not openrft's.
    env.update(openmp or OPENMP_DEFAULT)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-c", _CHILD, str(threads), str(reps), kind, "1" if fit else "0"]
    run = subprocess.run(
        command, env=env, check=True, capture_output=True, text=True, preexec_fn=die_with_bench()
    )
    out = run.stdout
    return round(float(out.strip()), 1)


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__)
    parser.add_argument("--reps", type=int, default=20, help="timed steps per setting")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"benchmark": "threads", "reps": args.reps}
    for kind in KINDS:
        result[f"{kind}_step_ms"] = {}
        for setting in SETTINGS:
            quiet = step_ms(setting, kind, args.reps)
            with busy_core():
                contended = step_ms(setting, kind, args.reps)
            result[f"{kind}_step_ms"][setting[0]] = {
                "quiet": quiet,
                "one_core_busy": contended,
                "busy_over_quiet": round(contended / quiet, 2),
            }
    write_result(RESULTS_PATH, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
