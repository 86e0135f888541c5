"""Thread settings on a busy machine: a fwd+bwd step, quiet and with one core kept busy (issue 19).

Each setting runs in a fresh process (OpenMP reads its environment once, when torch loads it):
2 threads with OpenMP's default wait policy (what torch did before issue 19), 1 thread, and
2 threads with ``OMP_WAIT_POLICY=PASSIVE`` (openrft's default now). The step is a stack of
SmolLM2-135M-shaped linear layers (576 ↔ 1536, 512 tokens), forward and backward; the median
of ``--reps`` is reported. Output: ``bench/results/threads.json``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.child import busy_core, write_result

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "threads.json"
# (name, torch threads, OMP_WAIT_POLICY or None for OpenMP's default)
SETTINGS = (
    ("2 threads, default wait policy", 2, None),
    ("1 thread", 1, None),
    ("2 threads, OMP_WAIT_POLICY=PASSIVE", 2, "PASSIVE"),
)
# Runs in the child: only torch, so the environment it was given is what OpenMP sees.
_CHILD = """
import statistics, sys, time
import torch
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
layers = [torch.nn.Linear(576, 1536), torch.nn.Linear(1536, 576)] * 3
x = torch.randn(512, 576, requires_grad=True)
def step():
    h = x
    for layer in layers:
        h = torch.nn.functional.silu(layer(h))
    h.square().mean().backward()
step()
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
print(statistics.median(times) * 1000)
"""


def step_ms(threads: int, wait_policy: str | None, reps: int) -> float:
    """Median fwd+bwd milliseconds in a fresh process with these settings."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if wait_policy is not None:
        env["OMP_WAIT_POLICY"] = wait_policy
    command = [sys.executable, "-c", _CHILD, str(threads), str(reps)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return round(float(out.strip()), 1)


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__)
    parser.add_argument("--reps", type=int, default=20, help="timed steps per setting")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"benchmark": "threads", "reps": args.reps, "step_ms": {}}
    for name, threads, policy in SETTINGS:
        quiet = step_ms(threads, policy, args.reps)
        with busy_core():
            contended = step_ms(threads, policy, args.reps)
        result["step_ms"][name] = {
            "quiet": quiet,
            "one_core_busy": contended,
            "busy_over_quiet": round(contended / quiet, 2),
        }
    write_result(RESULTS_PATH, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
