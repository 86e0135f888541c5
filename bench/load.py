"""Load test (issue 12): many SDK clients at once on a loopback server while a job trains.

``--clients`` openai-SDK clients (default 50), each with its own key, loop for ``--duration``
seconds (default 120) creating files, listing jobs, listing a job's events and chatting with
``tiny-random-llama``, while a real job trains. A prober in its own process times
``GET /health`` every 50 ms; a third of the way in, a hostile template (``graders/run`` with
48 KB of ``{{``) and a 100 MB upload arrive. Reported, never asserted: every operation's
count, 4xx/5xx counts and p50/p99 latency, and ``/health`` p99 overall and while the hostile
requests were in flight. Output:
``bench/results/load.json``. Short run: ``python -m bench.load --duration 10 --clients 5``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai

from bench.serving import running_server
from openrft.settings import Settings

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "load.json"
MODEL = "tiny-random-llama"
ROW = json.dumps({"messages": [{"role": "user", "content": "1+1?"}], "answer": "2"})
STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
HOSTILE_TEMPLATE = "{{" * (24 * 1024)
BIG_UPLOAD_BYTES = 100 * 1024 * 1024
HEALTH_PERIOD_S = 0.05
# Enough work that the job is still training when the load ends (it is cancelled then).
TRAIN_LONG = {"n_epochs": 50, "early_stopping": {"patience": 10_000}}
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Sample:
    op: str
    seconds: float
    status: int  # HTTP status; 0 for a connection error
    start: float = 0.0


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, op: str, call: Callable[[], Any]) -> None:
        start = time.perf_counter()
        try:
            result = call()
            status = result.status_code if isinstance(result, httpx.Response) else 200
        except openai.APIStatusError as exc:
            status = exc.status_code
        except (openai.APIConnectionError, httpx.HTTPError):
            status = 0
        with self.lock:
            self.samples.append(Sample(op, time.perf_counter() - start, status, start))


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    """Per operation: count, 4xx, 5xx, connection errors, p50 and p99 latency in ms."""
    report: dict[str, dict[str, Any]] = {}
    for op in sorted({s.op for s in samples}):
        mine = [s for s in samples if s.op == op]
        times = [s.seconds * 1000 for s in mine]
        report[op] = {
            "count": len(mine),
            "status_4xx": sum(400 <= s.status < 500 for s in mine),
            "status_5xx": sum(s.status >= 500 for s in mine),
            "connection_errors": sum(s.status == 0 for s in mine),
            "p50_ms": round(percentile(times, 0.50) or 0, 1),
            "p99_ms": round(percentile(times, 0.99) or 0, 1),
        }
    return report


def operations(client: openai.OpenAI, job_id: str) -> list[tuple[str, Callable[[], Any]]]:
    return [
        ("files.create", lambda: client.files.create(file=("r.jsonl", ROW), purpose="fine-tune")),
        ("jobs.list", lambda: client.fine_tuning.jobs.list(limit=20)),
        ("jobs.list_events", lambda: client.fine_tuning.jobs.list_events(job_id, limit=20)),
        (
            "chat.completions",
            lambda: client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "hi"}],
                max_completion_tokens=8,
            ),
        ),
    ]


def client_loop(base_url: str, index: int, job_id: str, until: float, rec: Recorder) -> None:
    client = openai.OpenAI(base_url=base_url, api_key=f"load-{index}", max_retries=0, timeout=120)
    ops = itertools.cycle(operations(client, job_id)[index % 4 :] + operations(client, job_id))
    while time.perf_counter() < until:
        rec.timed(*next(ops))


def probe_health(root_url: str, until: float) -> list[Sample]:
    """Run in its own process so the load threads' GIL never delays a probe."""
    rec = Recorder()
    with httpx.Client(timeout=30) as http:
        while time.perf_counter() < until:
            rec.timed("health", lambda: http.get(f"{root_url}/health"))
            time.sleep(HEALTH_PERIOD_S)
    return rec.samples


def hostile(base_url: str, rec: Recorder) -> None:
    """The 48 KB ``{{`` template and the 100 MB upload, at once."""
    row = json.dumps({"messages": [{"role": "user", "content": "x" * 1000}]}) + "\n"
    lines = row.encode() * (BIG_UPLOAD_BYTES // len(row))
    with httpx.Client(base_url=base_url, timeout=600) as http:

        def template() -> httpx.Response:
            body = {"grader": STRING_CHECK | {"input": HOSTILE_TEMPLATE}, "model_sample": "x"}
            return http.post("/fine_tuning/alpha/graders/run", json=body)

        def upload() -> httpx.Response:
            files = {"file": ("big.jsonl", lines)}
            return http.post("/files", files=files, data={"purpose": "fine-tune"})

        with ThreadPoolExecutor(2) as pool:
            for future in [
                pool.submit(rec.timed, "hostile.template", template),
                pool.submit(rec.timed, "hostile.upload_100mb", upload),
            ]:
                future.result()


def start_job(client: openai.OpenAI) -> str:
    rows = "\n".join([ROW] * 32).encode()
    file_id = client.files.create(file=("train.jsonl", rows), purpose="fine-tune").id
    method = {
        "type": "reinforcement",
        "reinforcement": {"grader": STRING_CHECK, "hyperparameters": TRAIN_LONG},
    }
    return client.fine_tuning.jobs.create(model=MODEL, training_file=file_id, method=method).id


def health_during(samples: list[Sample]) -> dict[str, Any]:
    """``/health`` p99 overall and within the hostile requests' time span."""
    hostile_spans = [s for s in samples if s.op.startswith("hostile.")]
    health = [s for s in samples if s.op == "health"]
    begin = min((s.start for s in hostile_spans), default=0.0)
    end = max((s.start + s.seconds for s in hostile_spans), default=0.0)
    during = [s.seconds * 1000 for s in health if begin <= s.start <= end]
    p99 = percentile(during, 0.99)
    return {
        "health_p99_ms_during_hostile": None if p99 is None else round(p99, 1),
        "health_probes_during_hostile": len(during),
        "hostile_span_s": round(end - begin, 2),
    }


def run(base_url: str, clients: int, duration_s: float) -> dict[str, Any]:
    root_url = base_url.removesuffix("/v1")
    admin = openai.OpenAI(base_url=base_url, api_key="load-admin", max_retries=0, timeout=300)
    job_id = start_job(admin)
    admin.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    rec = Recorder()
    until = time.perf_counter() + duration_s
    with ThreadPoolExecutor(clients + 1) as pool, ProcessPoolExecutor(1) as prober:
        probes = prober.submit(probe_health, root_url, until)
        futures = [
            pool.submit(client_loop, base_url, i, job_id, until, rec) for i in range(clients)
        ]
        time.sleep(duration_s / 3)
        futures.append(pool.submit(hostile, base_url, rec))
        for future in futures:
            future.result()
        rec.samples += probes.result()
    job = admin.fine_tuning.jobs.retrieve(job_id)
    if job.status not in TERMINAL:
        admin.fine_tuning.jobs.cancel(job_id)
    report = summarize(rec.samples)
    return {
        "clients": clients,
        "duration_s": duration_s,
        "job_status_at_end": job.status,
        "total_5xx": sum(entry["status_5xx"] for entry in report.values()),
        "operations": report,
        **health_during(rec.samples),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds")
    args = parser.parse_args(argv)
    env = {"OPENRFT_MAX_UPLOAD_BYTES": str(2 * BIG_UPLOAD_BYTES), "OPENRFT_SHUTDOWN_GRACE_S": "10"}
    with running_server(Settings().resolved_model_cache_dir, env) as base_url:
        result = run(base_url, args.clients, args.duration)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
