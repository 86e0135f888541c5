"""The GSM8K walkthrough, driven only through the official ``openai`` SDK.

prepare data → upload → write the reward Lambda → create the job → follow it → list
checkpoints → compare base and tuned models on held-out questions → plot → chat → results.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI, OpenAI
from openai.types.fine_tuning import FineTuningJob
from rich.console import Console
from rich.markup import escape

from openrft.demo import gsm8k_reward
from openrft.demo.config import DemoConfig
from openrft.demo.dataset import load_gsm8k, sample, split_train_valid, to_row, write_jsonl
from openrft.demo.evaluation import Comparison, compare_models
from openrft.demo.plot import plot_reward_curve
from openrft.demo.progress import JobHistory, follow_job
from openrft.demo.report import print_checkpoints, print_comparison, print_job_report
from openrft.demo.server import local_server


class DemoFailedError(RuntimeError):
    """The job did not succeed, so there is no tuned model to compare."""


def prepare_data(config: DemoConfig) -> tuple[Path, Path, list[dict[str, Any]]]:
    """Write train/validation JSONL under out_dir; returns their paths and the held-out rows."""
    system = config.system_prompt or None
    train, valid = split_train_valid(
        load_gsm8k("train", config.gsm8k_dir),
        config.train_rows,
        config.valid_rows,
        config.seed,
        system,
    )
    held_out = [
        to_row(ex, system)
        for ex in sample(load_gsm8k("test", config.gsm8k_dir), config.eval_rows, config.seed)
    ]
    data_dir = config.out_dir / "data"
    write_jsonl(data_dir / "gsm8k_heldout.jsonl", held_out)
    return (
        write_jsonl(data_dir / "gsm8k_train.jsonl", train),
        write_jsonl(data_dir / "gsm8k_valid.jsonl", valid),
        held_out,
    )


def write_reward_file(out_dir: Path) -> Path:
    """Copy the standard-library-only reward module to ``out_dir/demo_reward.py``."""
    target = out_dir / "demo_reward.py"
    shutil.copyfile(gsm8k_reward.__file__, target)
    return target.resolve()


def create_job(
    client: OpenAI, config: DemoConfig, train_id: str, valid_id: str, reward_path: Path
) -> FineTuningJob:
    """The Bedrock-style RFT job: Lambda grader from a file, hyperparameters in ``method``."""
    method = {
        "type": "reinforcement",
        "reinforcement": {
            "grader": {"type": "lambda", "lambda": {"function": f"{reward_path}:lambda_handler"}},
            "hyperparameters": config.hyperparameters(),
        },
    }
    return client.fine_tuning.jobs.create(
        model=config.model,
        training_file=train_id,
        validation_file=valid_id,
        seed=config.seed,
        suffix="gsm8k-demo",
        extra_body={"method": method},
    )


def chat_once(client: OpenAI, model: str, row: dict[str, Any], config: DemoConfig) -> str:
    """One greedy chat completion from ``model`` on a held-out question."""
    response = client.chat.completions.create(
        model=model, messages=row["messages"], temperature=0.0, max_tokens=config.max_tokens
    )
    return response.choices[0].message.content or ""


def fetch_job_report(client: OpenAI, job_id: str) -> dict[str, Any]:
    """The service's before/after report of the job (validation set, the job's grader)."""
    report: dict[str, Any] = client.get(f"/fine_tuning/jobs/{job_id}/report", cast_to=dict)
    return report


def build_results(
    config: DemoConfig,
    job: FineTuningJob,
    history: JobHistory,
    comparison: Comparison,
    wall_time_s: float,
    dashboard_url: str,
    job_report: dict[str, Any],
) -> dict[str, Any]:
    """The content of results.json."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "hardware": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
        },
        "job_id": job.id,
        "base_model": config.model,
        "fine_tuned_model": job.fine_tuned_model,
        "steps_trained": max(history.metrics, default=0),
        "train_rows": config.train_rows,
        "valid_rows": config.valid_rows,
        "hyperparameters": config.hyperparameters(),
        "system_prompt": config.system_prompt,
        "eval_decoding": {"temperature": 0.0, "max_tokens": config.max_tokens},
        "final_train_reward_mean": history.latest().get("train_reward_mean"),
        "wall_time_s": round(wall_time_s, 1),
        "dashboard_url": dashboard_url,
        "job_report": job_report,
        **comparison.as_dict(),
    }


def run_demo(config: DemoConfig, console: Console | None = None) -> dict[str, Any]:
    """Run the whole walkthrough; returns (and writes to out_dir/results.json) the results."""
    console = console or Console()
    started = time.monotonic()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    data = prepare_data(config)  # before the server starts: a missing dataset fails fast
    with ExitStack() as stack:
        base_url = config.base_url
        if base_url is None:
            log_path = config.out_dir / "server.log"
            console.print(f"[bold]Starting openrft serve[/] (log: {log_path})")
            server = local_server(config.out_dir / "server-data", log_path, config.out_dir)
            base_url = stack.enter_context(server)
        client = OpenAI(base_url=base_url, api_key=config.api_key, max_retries=0, timeout=600)
        results = _walkthrough(client, base_url, config, console, started, data)
    (config.out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"Results written to {config.out_dir / 'results.json'}")
    return results


def _walkthrough(
    client: OpenAI,
    base_url: str,
    config: DemoConfig,
    console: Console,
    started: float,
    data: tuple[Path, Path, list[dict[str, Any]]],
) -> dict[str, Any]:
    console.rule("1. Data: GSM8K in the Bedrock shape")
    train_path, valid_path, held_out = data
    train_id = client.files.create(file=train_path, purpose="fine-tune").id
    valid_id = client.files.create(file=valid_path, purpose="fine-tune").id
    console.print(
        f"uploaded {config.train_rows} training rows ({train_id}) and "
        f"{config.valid_rows} validation rows ({valid_id})"
    )
    console.rule("2. Reward: a Bedrock Lambda handler in a file")
    reward_path = write_reward_file(config.out_dir)
    console.print(f"grader: lambda {reward_path}:lambda_handler")
    console.rule(f"3. Reinforcement fine-tuning of {config.model}")
    job, history = _train(client, config, console, train_id, valid_id, reward_path)
    tuned = str(job.fine_tuned_model)
    job_report = fetch_job_report(client, job.id)
    print_job_report(console, job_report)
    console.rule(f"4. Base vs tuned on {len(held_out)} held-out GSM8K test questions")
    comparison = asyncio.run(_compare(base_url, config, tuned, held_out))
    print_comparison(console, comparison)
    write_jsonl(config.out_dir / "comparison.jsonl", comparison.per_question(held_out))
    title = f"{config.model} on GSM8K ({job.id})"
    plot = plot_reward_curve(history.metrics, config.out_dir / "reward_curve.png", title)
    dashboard_url = base_url.removesuffix("/v1") + f"/jobs/{job.id}"
    console.print(f"reward curve: {plot}   dashboard: {dashboard_url}")
    console.rule("5. Chat with the tuned model")
    console.print(f"[bold]user:[/] {escape(held_out[0]['messages'][-1]['content'])}")
    reply = chat_once(client, tuned, held_out[0], config)
    console.print(f"[bold]{escape(tuned)}:[/] {escape(reply)}")
    wall_time_s = time.monotonic() - started
    return build_results(config, job, history, comparison, wall_time_s, dashboard_url, job_report)


def _train(
    client: OpenAI,
    config: DemoConfig,
    console: Console,
    train_id: str,
    valid_id: str,
    reward_path: Path,
) -> tuple[FineTuningJob, JobHistory]:
    job = create_job(client, config, train_id, valid_id, reward_path)
    console.print(f"job {job.id}: {json.dumps(config.hyperparameters())}")
    try:
        job, history = follow_job(client, job.id, console, config.poll_s)
    except (KeyboardInterrupt, SystemExit):
        console.print(f"interrupted: cancelling {job.id}")
        client.fine_tuning.jobs.cancel(job.id)
        raise
    if job.status != "succeeded" or not job.fine_tuned_model:
        raise DemoFailedError(f"job {job.id} ended {job.status}: {job.error}")
    print_checkpoints(console, list(client.fine_tuning.jobs.checkpoints.list(job.id)))
    return job, history


async def _compare(
    base_url: str, config: DemoConfig, tuned_model: str, rows: list[dict[str, Any]]
) -> Comparison:
    async with AsyncOpenAI(
        base_url=base_url, api_key=config.api_key, max_retries=0, timeout=1800
    ) as client:
        return await compare_models(
            client,
            config.model,
            tuned_model,
            rows,
            max_tokens=config.max_tokens,
            concurrency=config.concurrency,
        )
