"""openrft vs TRL's ``GRPOTrainer`` on identical GRPO workloads, side by side (issues 7, 19).

For each workload (bench/workloads.py) runs ``bench.grpo_step`` (openrft) and ``bench.trl_step``
(TRL) for the same steps on identical inputs, each in its own child process, and reports: median
step time of each and their ratio, each side's step split (generate / grade / forward-backward /
optimizer / evaluate), peak RSS, the reward curves with a paired 95% t interval of their per-step
difference (the curves agree within noise when it holds zero) and, where the workload validates,
the validation reward curves and the training time each side took to reach a target validation
reward (the same target for both: the base model's greedy validation reward + ``--target-gain``).
The learning workload also runs openrft once more with one core kept busy by another process
(``--contended``, at most ``CONTENDED_STEPS`` steps), reported as contended / quiet median
step time. Each side records the 1-minute load average before and after it ran.

``python -m bench.grpo_vs_trl [--workload learning|reference|all] [--steps N] [--reuse]``: the
default (``make bench``) runs each workload's default steps: 10 for the learning workload,
enough for SmolLM2 to reach the target (it did at step 7 on 2026-12-03), 2 for the reference.
``--reuse`` keeps a side's earlier result of those steps.
Output: ``bench/results/grpo_vs_trl.json``. Nothing about time is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from scipy import stats

from bench import grpo_step, trl_step
from bench.child import write_result
from bench.workloads import WORKLOADS

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "grpo_vs_trl.json"
TARGET_GAIN = 0.1  # the target validation reward is the base model's + this
CONTENDED_STEPS = 3  # the contended run is for its median step time only


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.grpo_vs_trl", description=__doc__)
    parser.add_argument("--workload", choices=[*sorted(WORKLOADS), "all"], default="all")
    parser.add_argument("--steps", type=int, help="optimizer steps per side [workload default]")
    parser.add_argument("--target-gain", type=float, default=TARGET_GAIN)
    parser.add_argument("--contended", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--reuse", action="store_true", help="keep earlier results of --steps")
    args = parser.parse_args(argv)
    names = ["learning", "reference"] if args.workload == "all" else [args.workload]
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    result["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    for name in names:
        steps = args.steps or WORKLOADS[name].default_steps
        common = ["--workload", name, "--steps", str(steps)]
        ours = _side(grpo_step, grpo_step.results_path(name), common, args.reuse)
        theirs = _side(trl_step, trl_step.results_path(name), common, args.reuse)
        result[name] = compare(ours, theirs, args.target_gain)
        if name == "learning" and args.contended:
            path = grpo_step.results_path(name, contended=True)
            fewer = ["--workload", name, "--steps", str(min(steps, CONTENDED_STEPS))]
            busy = _side(grpo_step, path, [*fewer, "--contended"], args.reuse)
            result[name]["contended"] = contention(ours, busy)
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result(RESULTS_PATH, result)
    return result


def _side(module: Any, path: Path, argv: list[str], reuse: bool) -> dict[str, Any]:
    if reuse and path.is_file():
        earlier: dict[str, Any] = json.loads(path.read_text())
        if earlier.get("steps") == int(argv[argv.index("--steps") + 1]):
            return earlier
    load_before = os.getloadavg()[0]
    measured: dict[str, Any] = module.measure([*argv, "--out", str(path)])
    # The machine may be shared: a side measured under more load is slower for that alone.
    measured["load_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    return measured


def compare(ours: dict[str, Any], theirs: dict[str, Any], target_gain: float) -> dict[str, Any]:
    """The side-by-side summary of two step results (see module doc)."""
    out = {
        "steps": {"openrft": ours["steps"], "trl": theirs["steps"]},
        "median_step_s": {"openrft": ours["median_step_s"], "trl": theirs["median_step_s"]},
        "openrft_over_trl_step_time": round(ours["median_step_s"] / theirs["median_step_s"], 3),
        "median_split_s": {"openrft": ours["median_split_s"], "trl": theirs["median_split_s"]},
        "peak_rss_mib": {"openrft": ours["peak_rss_mib"], "trl": theirs["peak_rss_mib"]},
        "load_1min": {"openrft": ours.get("load_1min"), "trl": theirs.get("load_1min")},
        "openrft_rollout_tokens_per_s": ours["rollout_tokens_per_s"],
        "reward_curves": reward_agreement(ours["reward_means"], theirs["reward_means"]),
        "threads": {
            "openrft": ours["config"]["torch_threads"],
            "trl": theirs["config"]["torch_threads"],
        },
    }
    if ours.get("valid_rewards") and theirs.get("valid_rewards"):
        out["validation"] = time_to_target(ours, theirs, target_gain)
    return out


def time_to_target(
    ours: dict[str, Any], theirs: dict[str, Any], target_gain: float
) -> dict[str, Any]:
    """Training seconds (evaluation excluded) until each side's validation reward first reaches
    the base model's (openrft's step-0 evaluation) + ``target_gain``; None if never reached."""
    baseline = ours["valid_rewards"][0]
    target = baseline + target_gain

    def reached(side: dict[str, Any]) -> float | None:
        elapsed = 0.0
        for step_s, reward in zip(side["step_times_s"], side["valid_rewards"][1:], strict=False):
            elapsed += step_s
            if reward >= target:
                return round(elapsed, 1)
        return None

    seconds = {"openrft": reached(ours), "trl": reached(theirs)}
    both = seconds["openrft"] is not None and seconds["trl"] is not None
    return {
        "baseline": {"openrft": baseline, "trl": theirs["valid_rewards"][0]},
        "target": round(target, 4),
        "curves": {"openrft": ours["valid_rewards"], "trl": theirs["valid_rewards"]},
        "seconds_to_target": seconds,
        "openrft_over_trl_time_to_target": (
            round(seconds["openrft"] / seconds["trl"], 3) if both else None  # type: ignore[operator]
        ),
    }


def contention(quiet: dict[str, Any], busy: dict[str, Any]) -> dict[str, Any]:
    """Median step time with one core kept busy by another process vs without."""
    return {
        "median_step_s": {"quiet": quiet["median_step_s"], "one_core_busy": busy["median_step_s"]},
        "busy_over_quiet": round(busy["median_step_s"] / quiet["median_step_s"], 2),
        "median_split_s_busy": busy["median_split_s"],
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
