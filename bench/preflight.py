"""Preflight of the GSM8K demo's configuration (issue 16): how long it takes on this server.

Starts ``openrft serve`` (temp data dir, the shared model cache, converted before the clock
starts), uploads the demo's data (64 training and 16 validation GSM8K rows, the concise-answer
system prompt) and its one-answer Lambda reward, and times ``POST
/v1/fine_tuning/alpha/preflight`` with the demo's hyperparameters (8 samples, 160 tokens,
temperature 0.7) and the default sample size (as many prompts as the token budget allows: 9),
loading the model included. Reported, never asserted (target: under 2 minutes). Prints one line
with the time; output: ``bench/results/preflight.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai

from bench import reference_config as ref
from bench.serving import running_server
from openrft.demo import gsm8k_reward
from openrft.demo.config import DemoConfig
from openrft.demo.walkthrough import prepare_data
from openrft.settings import Settings

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "preflight.json"


def summary(report: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """The numbers worth reading from a report, with the request's wall time."""
    return {
        "wall_s": round(wall_s, 1),
        "prompts": report["groups"]["prompts"],
        "rows": report["rows"],
        "group_size": report["group_size"],
        "timing_s": {k: round(v, 1) for k, v in report["timing"].items()},
        "verdict": report["verdict"],
        "learnable_fraction": report["groups"]["learnable_fraction"],
        "learnable_fraction_ci95": report["groups"]["learnable_fraction_ci95"],
        "never_solved_fraction": report["groups"]["never_solved_fraction"],
        "always_solved_fraction": report["groups"]["always_solved_fraction"],
        "truncation_rate": report["completions"]["truncation_rate"],
        "base_reward_median": report["base_reward_median"],
        "probes": {p["kind"]: p["reward_mean"] for p in report["probes"]},
        "flagged": [p["kind"] for p in report["probes"] if p["flagged"]],
        "grader_ms_per_sample": 1000 * report["grader"]["seconds_per_sample"],
        "forecast": report["forecast"],
        "findings": [f["message"] for f in report["findings"]],
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-prompts", type=int, default=None, help="default: the server's")
    args = parser.parse_args(argv)
    config = DemoConfig(gsm8k_dir=ref.gsm8k_dir())
    ref.model_dir()  # a first run converts the GGUF: not the preflight's time
    with tempfile.TemporaryDirectory() as out:
        train, valid, _ = prepare_data(DemoConfig(out_dir=Path(out), gsm8k_dir=config.gsm8k_dir))
        with running_server(Settings().resolved_model_cache_dir) as base_url:
            client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=1800)
            files = [client.files.create(file=p, purpose="fine-tune").id for p in (train, valid)]
            handler = client.files.create(file=Path(gsm8k_reward.__file__), purpose="grader")
            grader = {"type": "lambda", "lambda": {"function": f"{handler.id}:lambda_handler"}}
            body = {
                "model": config.model,
                "training_file": files[0],
                "validation_file": files[1],
                "seed": config.seed,
                "max_prompts": args.max_prompts,
                "method": {
                    "type": "reinforcement",
                    "reinforcement": {
                        "grader": grader,
                        "hyperparameters": config.hyperparameters(),
                    },
                },
            }
            load = os.getloadavg()
            started = time.monotonic()
            report = client.post("/fine_tuning/alpha/preflight", body=body, cast_to=dict)
            wall_s = time.monotonic() - started
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": load,
        "load_average_after": os.getloadavg(),
    }
    result |= summary(report, wall_s)
    print(report["report_text"])
    print(json.dumps(result, indent=2))
    print(
        f"preflight of the GSM8K demo configuration: {wall_s:.1f} s (target < 120 s; "
        f"{result['prompts']} prompts x {report['group_size']} samples; load average "
        f"{load[0]:.1f} before, {result['load_average_after'][0]:.1f} after)"
    )
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
