"""Chat serving throughput: tokens/s for 1 and for 16 concurrent requests (issue 5).

Starts ``openrft serve`` on a free loopback port (temp data dir, the shared model cache) and
drives it with the official ``openai`` SDK: SmolLM2-135M-Instruct, GSM8K prompts, 64 new
tokens at temperature 1.0. Reported, never asserted. Output: ``bench/results/serving.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai

from bench import reference_config as ref
from bench.child import die_with_bench
from openrft.settings import Settings

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "serving.json"
OPENRFT = Path(sys.executable).parent / "openrft"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(model_cache: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """``openrft serve`` in a temp data dir; yields its ``/v1`` base URL."""
    with tempfile.TemporaryDirectory() as data_dir:
        port = _free_port()
        env = {**os.environ, "OPENRFT_MODEL_CACHE_DIR": str(model_cache), **(extra_env or {})}
        args = [str(OPENRFT), "serve", "--port", str(port), "--data-dir", data_dir]
        log = open(Path(data_dir) / "server.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_bench()
        )
        try:
            _wait_healthy(f"http://127.0.0.1:{port}/health", process)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("openrft serve exited early")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("openrft serve did not become healthy")


def run_reference_job(
    client: openai.OpenAI, files: tuple[str, str], grader: dict[str, Any], **hyperparameters: Any
) -> list[dict[str, Any]]:
    """Run a GRPO job of the reference configuration (``hyperparameters`` added or replaced)
    to its end; its metrics events' data, oldest first."""
    job = client.fine_tuning.jobs.create(
        model=ref.MODEL,
        training_file=files[0],
        validation_file=files[1],
        seed=ref.SEED,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": grader,
                "hyperparameters": {
                    "batch_size": ref.PROMPTS_PER_STEP,
                    "group_size": ref.GROUP_SIZE,
                    "max_completion_tokens": ref.MAX_NEW_TOKENS,
                    "lora_rank": ref.LORA_RANK,
                    "eval_interval": 1000,
                    "eval_samples": 1,
                    **hyperparameters,
                },
            },
        },
    )
    while (status := client.fine_tuning.jobs.retrieve(job.id)).status not in (
        "succeeded",
        "failed",
        "cancelled",
    ):
        time.sleep(2)
    if status.status != "succeeded":
        raise RuntimeError(f"job with {hyperparameters} ended {status.status}: {status.error}")
    events = client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    return [e.data for e in reversed(events) if e.type == "metrics"]


def measure(client: openai.OpenAI, model: str, questions: list[str], new: int) -> dict:
    """All ``questions`` at once; tokens/s = completion tokens / wall time of the slowest."""

    def ask(question: str) -> tuple[int, float]:
        start = time.perf_counter()
        response = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": question}],
            max_completion_tokens=new,
            temperature=ref.TEMPERATURE,
            seed=ref.SEED,
        )
        assert response.usage is not None
        return response.usage.completion_tokens, time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(pool.map(ask, questions))
    seconds = time.perf_counter() - start
    tokens = sum(t for t, _ in answers)
    return {
        "requests": len(questions),
        "completion_tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": tokens / seconds,
        "mean_latency_s": round(sum(s for _, s in answers) / len(answers), 2),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=ref.MODEL)
    parser.add_argument("--max-new-tokens", type=int, default=ref.MAX_NEW_TOKENS)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    rows = ref.reference_rows(2)
    questions = [row["messages"][-1]["content"] for row in rows]
    result: dict[str, Any] = {"model": args.model, "max_new_tokens": args.max_new_tokens}
    with running_server(Settings().resolved_model_cache_dir) as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=900)
        measure(client, args.model, questions[:1], 4)  # loads the model
        result["load_average_before"] = os.getloadavg()[0]
        result["single"] = measure(client, args.model, questions[:1], args.max_new_tokens)
        many = questions[: args.concurrency]
        result["concurrent"] = measure(client, args.model, many, args.max_new_tokens)
    result["concurrency_gain"] = (
        result["concurrent"]["tokens_per_s"] / result["single"]["tokens_per_s"]
    )
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
