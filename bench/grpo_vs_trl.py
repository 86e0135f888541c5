"""openrft vs TRL on the reference GRPO step, side by side (issue 7).

Runs ``bench.grpo_step`` (openrft) and then ``bench.trl_step`` (TRL ``GRPOTrainer``) for the
same number of steps on identical inputs (bench/reference_config.py), each in its own child
process, and reports: the median step time of each and their ratio, peak RSS of each, openrft's
step split, and whether the two reward curves agree. Both sides see the same prompts at each
step, so the curves are compared step by step: the paired difference of the per-step mean
rewards, with a 95% t interval; the curves agree within noise when that interval holds zero.

``python -m bench.grpo_vs_trl [--steps 10] [--reuse]``: a TRL step takes about 4 minutes on
2 CPU cores, so the default 10 steps take about 45 minutes. ``--reuse`` keeps a side's earlier
result (bench/results/{grpo_step,trl_step}.json) when it has the requested steps.
Output: ``bench/results/grpo_vs_trl.json``. Nothing about time is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from scipy import stats

from bench import grpo_step, trl_step

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "grpo_vs_trl.json"
CURVE_STEPS = 10


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.grpo_vs_trl", description=__doc__)
    parser.add_argument("--steps", type=int, default=CURVE_STEPS, help="optimizer steps per side")
    parser.add_argument("--reuse", action="store_true", help="keep earlier results of --steps")
    args = parser.parse_args(argv)
    ours = _side(grpo_step, grpo_step.RESULTS_PATH, args.steps, args.reuse)
    theirs = _side(trl_step, trl_step.RESULTS_PATH, args.steps, args.reuse)
    result = compare(ours, theirs)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


def _side(module: Any, path: Path, steps: int, reuse: bool) -> dict[str, Any]:
    if reuse and path.is_file():
        earlier: dict[str, Any] = json.loads(path.read_text())
        if earlier.get("steps") == steps:
            return earlier
    measured: dict[str, Any] = module.measure(["--steps", str(steps), "--out", str(path)])
    return measured


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """The side-by-side summary of two step results (see module doc)."""
    return {
        "steps": {"openrft": ours["steps"], "trl": theirs["steps"]},
        "median_step_s": {"openrft": ours["median_step_s"], "trl": theirs["median_step_s"]},
        "trl_over_openrft_step_time": round(theirs["median_step_s"] / ours["median_step_s"], 2),
        "peak_rss_mib": {"openrft": ours["peak_rss_mib"], "trl": theirs["peak_rss_mib"]},
        "openrft_median_split_s": ours["median_split_s"],
        "openrft_rollout_tokens_per_s": ours["rollout_tokens_per_s"],
        "reward_curves": reward_agreement(ours["reward_means"], theirs["reward_means"]),
        "threads": {
            "openrft": ours["config"]["torch_threads"],
            "trl": theirs["config"]["torch_threads"],
        },
    }


def reward_agreement(ours: list[float], theirs: list[float]) -> dict[str, Any]:
    """Paired per-step difference of mean rewards (openrft − TRL) with a 95% t interval."""
    steps = min(len(ours), len(theirs))
    diffs = [a - b for a, b in zip(ours[:steps], theirs[:steps], strict=True)]
    out: dict[str, Any] = {"openrft": ours[:steps], "trl": theirs[:steps]}
    if steps < 2:
        return {**out, "agree_within_noise": None, "note": "need 2+ steps for an interval"}
    mean = statistics.fmean(diffs)
    half = stats.t.ppf(0.975, steps - 1) * statistics.stdev(diffs) / steps**0.5
    low, high = mean - half, mean + half
    return {
        **out,
        "mean_difference": round(mean, 4),
        "ci95": [round(low, 4), round(high, 4)],
        "agree_within_noise": bool(low <= 0.0 <= high),
    }


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
