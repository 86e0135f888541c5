"""Graded samples per second for a batch of 1,000, per grader type (issue 3).

Targets on the 2-core reference machine: string_check ≥ 20,000/s, python (sandboxed) ≥ 1,000/s,
HTTP Lambda ≥ 2,000/s. Reported, never asserted. Output: ``bench/results/graders.json``.
The python grader is measured cold (first batch: sandbox processes start) and warm.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from openrft.graders import GraderContext, GradingRequest, build_grader, validate_grader
from openrft.graders.sandbox.launch import detect_isolation

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "graders.json"
TARGETS = {"string_check": 20_000, "python_sandboxed_warm": 1_000, "http_lambda": 2_000}
PYTHON_SOURCE = """
def grade(sample, item):
    return 1.0 if sample["output_text"].strip() == item["reference_answer"] else 0.0
"""


def make_requests(n: int) -> list[GradingRequest]:
    """``n`` GSM8K-like rollouts: half right, half wrong."""
    requests = []
    for i in range(n):
        answer = str(i % 97)
        output = f"The total is {answer}. #### {answer}" if i % 2 else "I think it is 3."
        item = {"messages": [{"role": "user", "content": f"Q{i}"}], "reference_answer": answer}
        requests.append(GradingRequest(f"r{i}", item["messages"], output, item))
    return requests


def text_spec(metric: str) -> dict[str, Any]:
    return {
        "type": "text_similarity",
        "input": "{{sample.output_text}}",
        "reference": "The total is {{item.reference_answer}}. #### {{item.reference_answer}}",
        "evaluation_metric": metric,
    }


class _Reward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real Lambda URL front end would

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = [
            {
                "id": t["id"],
                "aggregate_reward_score": float(
                    t["reference_answer"] in t["messages"][-1]["content"]
                ),
                "metrics_list": [],
            }
            for t in event
        ]
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def reward_server() -> Iterator[str]:
    """A loopback reward function; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Reward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/reward"
    finally:
        server.shutdown()
        server.server_close()


async def samples_per_s(spec: dict[str, Any], requests: list[GradingRequest], repeats: int) -> dict:
    """Throughput of each of ``repeats`` batches on one grader (first = cold)."""
    grader = build_grader(validate_grader(spec), GraderContext())
    rates = []
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            results = await grader.grade(requests)
            rates.append(len(requests) / (time.perf_counter() - start))
            assert len(results) == len(requests)
    finally:
        await grader.aclose()
    return {"cold": round(rates[0]), "median": round(statistics.median(rates[1:] or rates))}


async def measure(batch: int, repeats: int) -> dict[str, Any]:
    requests = make_requests(batch)
    check = {
        "type": "string_check",
        "input": "{{sample.output_text}}",
        "reference": "#### {{item.reference_answer}}",
        "operation": "like",
    }
    python = {"type": "python", "source": PYTHON_SOURCE}
    rates = {
        "string_check": await samples_per_s(check, requests, repeats),
        "text_similarity_fuzzy": await samples_per_s(text_spec("fuzzy_match"), requests, repeats),
        "text_similarity_bleu": await samples_per_s(text_spec("bleu"), requests, repeats),
        "python_sandboxed": await samples_per_s(python, requests, repeats),
    }
    with reward_server() as url:
        http = {"type": "lambda", "lambda": {"function": url, "batch_size": 64, "concurrency": 8}}
        rates["http_lambda"] = await samples_per_s(http, requests, repeats)
    return rates


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print and write ``bench/results/graders.json``; return the result."""
    parser = argparse.ArgumentParser(prog="python -m bench.graders")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS_PATH)
    options = parser.parse_args(argv)
    rates = asyncio.run(measure(options.batch, options.repeats))
    result = {
        "benchmark": "graders",
        "batch": options.batch,
        "unit": "graded samples per second (cold = first batch, median = later batches)",
        "sandbox": detect_isolation().mode,
        "rates": rates,
        "targets": TARGETS,
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
