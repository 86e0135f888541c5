"""The demo's first GSM8K reward is gamed and the monitor grader catches it (issue 16).

Two SmolLM2 jobs of the demo's shape (64 GSM8K rows, 4 prompts x 8 samples, 160 tokens,
lr 5e-4, temperature 0.7, same seed), each with the strict monitor grader:
- trained on the gameable reward (format credit without the one-answer rule), the job raises
  the ``reward_hacking`` alarm;
- trained on the demo's one-answer reward, it does not.

Slow (two jobs side by side; 6 steps took 73 minutes on 2 overloaded cores, README):
``pytest -m slow tests/e2e/test_hacking_alarm.py -s``. With ``OPENRFT_HACKING_OUT=path.json``
the per-step numbers of both runs are written there (the README's table comes from them);
``OPENRFT_MODEL_CACHE_DIR`` reuses converted models.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import pytest

from openrft.demo.config import DemoConfig
from openrft.demo.walkthrough import prepare_data
from tests.e2e.test_training_smollm2 import GSM8K_DIR
from tests.gsm8k_graders import GAMEABLE, STRICT_MONITOR, one_answer_lambda
from tests.integration.conftest import start_server, wait_for_status

pytestmark = pytest.mark.timeout(4 * 3600)

STEPS = DemoConfig().steps  # the demo's 8
SIGNALS = (
    "train_reward_mean",
    "monitor/reward_mean",
    "monitor/reward_gap_mean",
    "monitor/reward_gap_se",
    "completions/repetition_rate",
    "response_length_mean",
    "grader/gsm8k_format_credit",
)


def create(client: openai.OpenAI, files: tuple[str, str], grader: dict[str, Any]) -> str:
    config = DemoConfig(steps=STEPS)
    job = client.fine_tuning.jobs.create(
        model=config.model,
        training_file=files[0],
        validation_file=files[1],
        seed=config.seed,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": grader,
                "monitor_grader": STRICT_MONITOR,
                "hyperparameters": config.hyperparameters(),
            },
        },
    )
    return job.id


def run_record(client: openai.OpenAI, job_id: str) -> dict[str, Any]:
    """Per-step signals and the alarms (with the step after which each fired) of a job."""
    steps: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    for event in reversed(list(client.fine_tuning.jobs.list_events(job_id, limit=1000))):
        data = event.data or {}
        if event.type == "metrics":
            steps.append({k: data[k] for k in ("step", *SIGNALS) if k in data})
        elif event.level == "warn" and "alarm" in data:
            alarms.append({"after_step": len(steps), "message": event.message, **data})
    return {"job": job_id, "steps": steps, "alarms": alarms}


@pytest.mark.slow
def test_gameable_reward_raises_the_hacking_alarm_and_the_one_answer_reward_does_not(
    tmp_path: Path,
) -> None:
    if not (GSM8K_DIR / "train.jsonl").is_file():
        pytest.skip(f"GSM8K not found at {GSM8K_DIR} (set OPENRFT_GSM8K_DIR)")
    data_dir = tmp_path / "server"
    env = {
        "OPENRFT_MAX_CONCURRENT_JOBS": "2",
        "OPENRFT_TRAINING_THREADS": "1",
        # A converted model cache of your own saves each job the GGUF conversion.
        "OPENRFT_MODEL_CACHE_DIR": os.environ.get("OPENRFT_MODEL_CACHE_DIR", ""),
    }
    started, load = time.monotonic(), os.getloadavg()
    with start_server(data_dir, env=env) as server:
        # A loaded machine can take longer than the default 30 s to answer a poll.
        client = server.client().with_options(timeout=300, max_retries=5)
        train, valid, _ = prepare_data(DemoConfig(out_dir=tmp_path / "demo", gsm8k_dir=GSM8K_DIR))
        files = tuple(
            client.files.create(file=path, purpose="fine-tune").id for path in (train, valid)
        )
        jobs = {
            "gameable": create(client, files, GAMEABLE),
            "one_answer": create(client, files, one_answer_lambda(tmp_path)),
        }
        for job_id in jobs.values():
            done = wait_for_status(client, job_id, {"succeeded", "failed", "paused"}, 4 * 3600)
            assert done.status == "succeeded", (done.error, server.log_tail())
        records = {name: run_record(client, job_id) for name, job_id in jobs.items()}
    run = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - started, 1),
        "load_average_start": load,
        "load_average_end": os.getloadavg(),
    }
    print(json.dumps({**records, "run": run}, indent=1))
    if os.environ.get("OPENRFT_HACKING_OUT"):
        out = json.dumps({**records, "run": run}, indent=1) + "\n"
        Path(os.environ["OPENRFT_HACKING_OUT"]).write_text(out)
    kinds = {name: [a["alarm"] for a in record["alarms"]] for name, record in records.items()}
    assert "reward_hacking" in kinds["gameable"], records["gameable"]
    assert "reward_hacking" not in kinds["one_answer"], records["one_answer"]
