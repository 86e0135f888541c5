"""One job's step time with 1 vs 2 rollout workers, through ``serve --executor ray`` (issue 13).

Starts a local Ray head (``ray start --head``, 2 CPUs, dashboard off) and ``openrft serve
--executor ray`` on it, then runs the same GRPO job twice — SmolLM2-135M-Instruct, LoRA, the
reference GSM8K rows, ``--steps`` steps of 8 prompts x 8 samples, 64 new tokens, a
``string_check`` grader — with ``rollout_workers`` 1 and 2, and reports the median
``step_time_s`` and ``timing/generate_s`` of each from the jobs' metrics events. On a 2-core
machine two workers share the same cores as one, so expect no gain here; on N nodes each
worker has its own cores and generation (most of a step) splits N ways. Reported, never
asserted. Output: ``bench/results/rollout_workers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai

from bench import reference_config as ref
from bench.ray_head import ray_head
from bench.serving import _free_port, run_reference_job, running_server
from openrft.settings import Settings

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "rollout_workers.json"
GRADER = {
    "type": "string_check",
    "name": "answer",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "eq",
}


@contextmanager
def local_ray() -> Iterator[str]:
    """A 2-CPU Ray head on loopback; yields its address; stopped (only it) at exit."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_memory_monitor_refresh_ms": "0"}
    with (
        tempfile.TemporaryDirectory(prefix="ray-", dir="/tmp") as temp_dir,
        ray_head(_free_port(), 2, Path(temp_dir), env) as address,
    ):
        yield address


def summary(metrics: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "median_step_time_s": statistics.median(m["step_time_s"] for m in metrics),
        "median_generate_s": statistics.median(m["timing/generate_s"] for m in metrics),
        "median_rollout_tokens_per_s": statistics.median(
            m["rollout_tokens_per_s"] for m in metrics
        ),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    rows = ref.reference_rows(args.steps)
    train, valid = ("\n".join(json.dumps(r) for r in part).encode() for part in (rows, rows[:2]))
    results: dict[str, Any] = {"steps": args.steps, "cpus": os.cpu_count(), "workers": {}}
    with local_ray() as address:
        env = {"OPENRFT_EXECUTOR": "ray", "OPENRFT_RAY_ADDRESS": address}
        with running_server(Settings().resolved_model_cache_dir, env) as base_url:
            client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=600)
            files = tuple(
                client.files.create(file=(f"{name}.jsonl", data), purpose="fine-tune").id
                for name, data in (("train", train), ("valid", valid))
            )
            for workers in (1, 2):
                metrics = run_reference_job(
                    client,
                    (files[0], files[1]),
                    GRADER,
                    max_steps=args.steps,
                    rollout_workers=workers,
                    resources={"num_cpus": 0.5},
                )
                results["workers"][str(workers)] = summary(metrics)
                print(f"rollout_workers={workers}: {results['workers'][str(workers)]}", flush=True)
    one, two = (results["workers"][k]["median_step_time_s"] for k in ("1", "2"))
    results["step_time_2_over_1"] = two / one
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
