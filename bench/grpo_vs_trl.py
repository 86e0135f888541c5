"""openrft vs TRL's ``GRPOTrainer`` on identical GRPO workloads, side by side (issues 7, 19).

For each workload (bench/workloads.py) runs ``bench.grpo_step`` (openrft) and ``bench.trl_step``
(TRL) for the same steps on identical inputs, each in its own child process. A workload that
validates (``learning``) runs each side several times with different seeds (LoRA init and
sampling; ``--openrft-seeds``, ``--trl-seeds``), alternating sides; the reference workload runs
each side once. Reported: median step time of each (over every step of every run) and their
ratio, each side's step split (generate / grade / forward-backward / optimizer / evaluate), peak
RSS, the training-reward curves and whether they agree within run-to-run noise (see
``reward_agreement``), and, where the workload validates, the validation reward curves and the
training time each run took to reach a target validation reward (the same target for both: the
base model's greedy validation reward + ``--target-gain``), compared by each side's median run.
The learning workload also runs openrft once more with one core kept busy by another process
(``--contended``, at most ``CONTENDED_STEPS`` steps), reported as contended / quiet median
step time. Each run records the 1-minute load average before and after it ran.

``python -m bench.grpo_vs_trl [--workload learning|reference|all] [--steps N] [--reuse]``: the
default (``make bench``) runs each workload's default steps: 10 for the learning workload,
enough for SmolLM2 to reach the target (it did at step 7 on 2026-12-03), 2 for the reference.
``--reuse`` keeps a run's earlier result of those steps.
Output: ``bench/results/grpo_vs_trl.json``. Nothing about time is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
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
# Runs per side of a validated workload: learning curves are compared between runs, the unit
# that is independent (successive steps of one run are not). openrft's runs cost ~⅓ of TRL's.
OPENRFT_SEEDS = 3
TRL_SEEDS = 2


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.grpo_vs_trl", description=__doc__)
    parser.add_argument("--workload", choices=[*sorted(WORKLOADS), "all"], default="all")
    parser.add_argument("--steps", type=int, help="optimizer steps per run [workload default]")
    parser.add_argument("--target-gain", type=float, default=TARGET_GAIN)
    parser.add_argument("--openrft-seeds", type=int, default=OPENRFT_SEEDS, help="runs, seeds 0…")
    parser.add_argument("--trl-seeds", type=int, default=TRL_SEEDS, help="runs, seeds 0…")
    parser.add_argument("--contended", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--reuse", action="store_true", help="keep earlier results of --steps")
    args = parser.parse_args(argv)
    names = ["learning", "reference"] if args.workload == "all" else [args.workload]
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    result["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    for name in names:
        steps = args.steps or WORKLOADS[name].default_steps
        common = ["--workload", name, "--steps", str(steps)]
        validated = bool(WORKLOADS[name].valid_rows())
        runs = (args.openrft_seeds, args.trl_seeds) if validated else (1, 1)
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for seed in range(max(runs)):  # alternating, so that a drift in load hits both sides
            seeded = [*common, "--seed", str(seed)]
            if seed < runs[0]:
                path = grpo_step.results_path(name, seed=seed)
                ours.append(_side(grpo_step, path, seeded, args.reuse))
            if seed < runs[1]:
                theirs.append(
                    _side(trl_step, trl_step.results_path(name, seed), seeded, args.reuse)
                )
        result[name] = compare(ours, theirs, args.target_gain)
        if name == "learning" and args.contended:
            path = grpo_step.results_path(name, contended=True)
            fewer = ["--workload", name, "--steps", str(min(steps, CONTENDED_STEPS))]
            busy = _side(grpo_step, path, [*fewer, "--contended"], args.reuse)
            quiet = result[name]["median_step_s"]["openrft"]
            result[name]["contended"] = contention(quiet, busy)
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


def median_step(runs: list[dict[str, Any]]) -> float:
    """The median over every step of every run."""
    return round(statistics.median(t for run in runs for t in run["step_times_s"]), 2)


def median_split(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Each split key's median over the runs' medians."""
    keys = runs[0]["median_split_s"]
    return {k: round(statistics.median(run["median_split_s"][k] for run in runs), 2) for k in keys}


def compare(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]], target_gain: float
) -> dict[str, Any]:
    """The side-by-side summary of each side's runs (see module doc)."""
    sides = {"openrft": ours, "trl": theirs}
    step = {side: median_step(runs) for side, runs in sides.items()}
    out = {
        "seeds": {side: [run["config"]["seed"] for run in runs] for side, runs in sides.items()},
        "steps": {"openrft": ours[0]["steps"], "trl": theirs[0]["steps"]},
        "median_step_s": step,
        "openrft_over_trl_step_time": round(step["openrft"] / step["trl"], 3),
        "median_step_s_per_run": {
            side: [run["median_step_s"] for run in runs] for side, runs in sides.items()
        },
        "median_split_s": {side: median_split(runs) for side, runs in sides.items()},
        "peak_rss_mib": {
            side: max(run["peak_rss_mib"] for run in runs) for side, runs in sides.items()
        },
        "load_1min": {side: [run.get("load_1min") for run in runs] for side, runs in sides.items()},
        "openrft_rollout_tokens_per_s": ours[0]["rollout_tokens_per_s"],
        "reward_curves": reward_agreement(
            [run["reward_means"] for run in ours], [run["reward_means"] for run in theirs]
        ),
        "threads": {
            side: [run["config"]["torch_threads"] for run in runs] for side, runs in sides.items()
        },
    }
    if ours[0].get("valid_rewards") and theirs[0].get("valid_rewards"):
        out["validation"] = time_to_target(ours, theirs, target_gain)
    return out


def time_to_target(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]], target_gain: float
) -> dict[str, Any]:
    """Training seconds (evaluation excluded) until each run's validation reward first reaches
    the base model's (openrft's first run's step-0 evaluation) + ``target_gain``, None if never;
    each side's median run (None when at least half its runs never reach it) and their ratio."""
    baseline = ours[0]["valid_rewards"][0]
    target = baseline + target_gain

    def reached(run: dict[str, Any]) -> float | None:
        elapsed = 0.0
        for step_s, reward in zip(run["step_times_s"], run["valid_rewards"][1:], strict=False):
            elapsed += step_s
            if reward >= target:
                return round(elapsed, 1)
        return None

    def median_run(seconds: list[float | None]) -> float | None:
        middle = statistics.median(math.inf if s is None else s for s in seconds)
        return None if math.isinf(middle) else round(middle, 1)

    sides = {"openrft": ours, "trl": theirs}
    per_run = {side: [reached(run) for run in runs] for side, runs in sides.items()}
    median = {side: median_run(seconds) for side, seconds in per_run.items()}
    both = median["openrft"] is not None and median["trl"] is not None
    return {
        "baseline": {
            side: [run["valid_rewards"][0] for run in runs] for side, runs in sides.items()
        },
        "target": round(target, 4),
        "curves": {side: [run["valid_rewards"] for run in runs] for side, runs in sides.items()},
        "seconds_to_target_per_run": per_run,
        "seconds_to_target": median,
        "openrft_over_trl_time_to_target": (
            round(median["openrft"] / median["trl"], 3) if both else None  # type: ignore[operator]
        ),
    }


def contention(quiet_step_s: float, busy: dict[str, Any]) -> dict[str, Any]:
    """Median step time with one core kept busy by another process vs without."""
    return {
        "median_step_s": {"quiet": quiet_step_s, "one_core_busy": busy["median_step_s"]},
        "busy_over_quiet": round(busy["median_step_s"] / quiet_step_s, 2),
        "median_split_s_busy": busy["median_split_s"],
    }


def reward_agreement(ours: list[list[float]], theirs: list[list[float]]) -> dict[str, Any]:
    """Whether two sides' training-reward curves agree within run-to-run noise.

    Each run (one seed) gives one number, its mean training reward over the steps all runs
    have; the sides' run means are compared by a two-sample t interval with pooled variance
    (both sides run the same algorithm on the same prompts, so their runs spread alike; a side
    with one run borrows the other's spread). The curves agree when the 95% interval of
    openrft − TRL holds 0. Steps are not the unit: a run that gets ahead stays ahead, so
    successive steps' differences are correlated and an interval over them is too narrow (it
    flagged two openrft runs of the same code, 2026-12-05). ``paired_over_steps`` is that
    interval for the first run of each side, reported for comparison only.
    """
    steps = min(len(curve) for curve in [*ours, *theirs])
    means = {
        side: [statistics.fmean(curve[:steps]) for curve in curves]
        for side, curves in (("openrft", ours), ("trl", theirs))
    }
    out: dict[str, Any] = {
        "openrft": [curve[:steps] for curve in ours],
        "trl": [curve[:steps] for curve in theirs],
        "run_means": {side: [round(m, 4) for m in values] for side, values in means.items()},
        "paired_over_steps": paired_over_steps(ours[0][:steps], theirs[0][:steps]),
    }
    if len(ours) + len(theirs) < 3:
        return {**out, "agree_within_noise": None, "note": "need 3+ runs for an interval"}
    test = stats.ttest_ind(means["openrft"], means["trl"], equal_var=True)
    low, high = test.confidence_interval(0.95)
    return {
        **out,
        "mean_difference": round(
            statistics.fmean(means["openrft"]) - statistics.fmean(means["trl"]), 4
        ),
        "ci95": [round(low, 4), round(high, 4)],
        "agree_within_noise": bool(low <= 0.0 <= high),
    }


def paired_over_steps(ours: list[float], theirs: list[float]) -> dict[str, Any]:
    """Mean per-step difference of two runs' rewards with a 95% t interval over the steps."""
    if len(ours) < 2:
        return {"note": "need 2+ steps for an interval"}
    test = stats.ttest_rel(ours, theirs)
    low, high = test.confidence_interval(0.95)
    mean = statistics.fmean(a - b for a, b in zip(ours, theirs, strict=True))
    return {"mean_difference": round(mean, 4), "ci95": [round(low, 4), round(high, 4)]}


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
