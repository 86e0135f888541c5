"""One job's step time with ``async_rollouts`` off and on, through ``openrft serve`` (issue 19).

Runs the same GRPO job twice — SmolLM2-135M-Instruct, LoRA, the reference GSM8K rows,
``--steps`` steps of 8 prompts x 8 samples, 64 new tokens — with a ``text_similarity`` grader
(fuzzy match against the reference solution) so that every group has reward variance and
every step trains (a step whose groups all tie skips its backward, and then there is nothing
to overlap). Reports the median ``step_time_s`` and its split, the staleness and the
sampler/trainer log-prob gap of each run, and the 1-minute load average before and after.
On 2 cores generation and training compete for the same cores; where they run on separate
devices or workers, one-step-ahead generation hides the shorter of the two. Reported, never
asserted. Output: ``bench/results/async_rollouts.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any

import openai

from bench import reference_config as ref
from bench.serving import run_reference_job, running_server
from openrft.settings import Settings

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "async_rollouts.json"
GRADER = {
    "type": "text_similarity",
    "name": "solution",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "evaluation_metric": "fuzzy_match",
}
SPLIT = (
    "step_time_s",
    "timing/rollout_wait_s",
    "timing/generate_s",
    "timing/grade_s",
    "timing/update_s",
    "timing/forward_backward_s",
    "timing/eval_s",
    "async/staleness",
    "sampling/logp_gap_mean",
    "sampling/is_ratio_mean",
    "trained_fraction",
)


def summary(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the steps after the first (step 1 has nothing generated ahead)."""
    later = metrics[1:] or metrics
    return {
        "median": {k: statistics.median(m[k] for m in later if k in m) for k in SPLIT},
        "steps": [{k: m.get(k) for k in ("step", *SPLIT)} for m in metrics],
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    rows = ref.reference_rows(args.steps)
    train, valid = ("\n".join(json.dumps(r) for r in part).encode() for part in (rows, rows[:2]))
    results: dict[str, Any] = {"steps": args.steps, "cpus": os.cpu_count(), "runs": {}}
    with running_server(Settings().resolved_model_cache_dir) as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=600)
        files = tuple(
            client.files.create(file=(name, data), purpose="fine-tune").id
            for name, data in (("train.jsonl", train), ("valid.jsonl", valid))
        )
        for ahead in (False, True):
            load_before = os.getloadavg()[0]
            metrics = run_reference_job(
                client,
                (files[0], files[1]),
                GRADER,
                learning_rate=1e-4,
                max_steps=args.steps,
                async_rollouts=ahead,
            )
            name = "async" if ahead else "sync"
            results["runs"][name] = {
                **summary(metrics),
                "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
            median = results["runs"][name]["median"]
            print(
                f"async_rollouts={ahead}: median step {median['step_time_s']:.1f} s "
                f"(waited for rollouts {median['timing/rollout_wait_s']:.1f} s, generate "
                f"{median['timing/generate_s']:.1f} s, update {median['timing/update_s']:.1f} s), "
                f"staleness {median['async/staleness']:.0f}, log-prob gap "
                f"{median['sampling/logp_gap_mean']:.4f}; 1-min load before/after "
                f"{results['runs'][name]['load_1min']}",
                flush=True,
            )
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS_PATH}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
