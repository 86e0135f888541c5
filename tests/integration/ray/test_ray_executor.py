"""``openrft serve --executor ray`` on the real local Ray cluster: jobs run as Ray actors.

One server for the module (each job's actor asks for half a CPU of the 2-CPU cluster). The
tiny jobs are compared with the same job on the session's local-executor ``server``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import free_port
from tests.integration.conftest import (
    OPENRFT_BIN,
    STRING_CHECK,
    ServerHandle,
    server,
    start_server,
    wait_for_status,
)
from tests.integration.ray.conftest import RayCluster

__all__ = ["server"]

ray = pytest.importorskip("ray")

TERMINAL = {"succeeded", "failed", "cancelled"}
TINY = {
    "batch_size": 2,
    "group_size": 2,
    "max_completion_tokens": 4,
    "eval_interval": 2,
    "eval_samples": 1,
    "lora_rank": 2,
    "early_stopping": {"patience": 100},  # every job runs all its steps
}
JOB_TIMEOUT_S = 600.0  # a hang guard: Ray starts actors slowly (nice 15) on a busy machine
# The trainer-kill job's steps. Its grader holds step 3's batch (after step 2's checkpoint) until
# the trainer is killed, so the kill lands mid-run however fast or slow the machine is.
STEPS = 4
HELD_STEP = 3
OTHER_ROWS = 400  # one step each: the other job is still running when it is cancelled
SLOW_GRADER = {
    "type": "python",
    "name": "slow",
    "source": "import time\n\ndef grade(sample, item):\n    time.sleep(0.5)\n    return 0.0\n",
}


@pytest.fixture(scope="module")
def ray_server(
    ray_cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    env = {
        "OPENRFT_RAY_NUM_CPUS": "0.5",
        "OPENRFT_TRAINING_THREADS": "1",
        "OPENRFT_MAX_CONCURRENT_JOBS": "2",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    args = ("--executor", "ray", "--ray-address", ray_cluster.address)
    with start_server(tmp_path_factory.mktemp("openrft-ray"), extra_args=args, env=env) as handle:
        yield handle


class HeldGrader(ThreadingHTTPServer):
    """A Bedrock-style HTTP reward function (every score 0) that holds the training batch of
    step ``held_step`` and every later batch until ``release`` is set. A training batch is one
    group (``group_size`` 2 rollouts of one prompt); evaluations send 1 sample per item."""

    def __init__(self, held_step: int) -> None:
        super().__init__(("127.0.0.1", 0), _HeldGraderHandler)
        self.held_step = held_step
        self.steps = 0
        self.lock = threading.Lock()
        self.holding = threading.Event()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/"


class _HeldGraderHandler(BaseHTTPRequestHandler):
    server: HeldGrader

    def do_POST(self) -> None:
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompts = [t["messages"][:-1] for t in batch]
        with self.server.lock:
            self.server.steps += len(prompts) == 2 and prompts[0] == prompts[1]
            hold = self.server.steps >= self.server.held_step
        if hold:
            self.server.holding.set()
            self.server.release.wait(timeout=JOB_TIMEOUT_S)
        body = json.dumps([{"id": t["id"], "aggregate_reward_score": 0.0} for t in batch])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test's output is the job's events."""


@pytest.fixture
def held_grader() -> Iterator[HeldGrader]:
    grader = HeldGrader(HELD_STEP)
    thread = threading.Thread(target=grader.serve_forever, daemon=True)
    thread.start()
    try:
        yield grader
    finally:
        grader.release.set()
        grader.shutdown()
        grader.server_close()


def _upload(client: openai.OpenAI, rows: int, name: str) -> str:
    lines = [
        json.dumps({"messages": [{"role": "user", "content": f"q{i}"}], "answer": "x"})
        for i in range(rows)
    ]
    return client.files.create(file=(name, "\n".join(lines).encode()), purpose="fine-tune").id


def _create(
    client: openai.OpenAI, rows: int, grader: dict[str, Any] = STRING_CHECK, **hyperparameters: Any
) -> str:
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=_upload(client, rows, "train.jsonl"),
        validation_file=_upload(client, 2, "valid.jsonl"),
        seed=7,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": grader,
                "hyperparameters": {**TINY, **hyperparameters},
            },
        },
    )
    return job.id


def _events(client: openai.OpenAI, job_id: str) -> list[Any]:
    return list(reversed(client.fine_tuning.jobs.list_events(job_id, limit=1000).data))


def _metrics_steps(client: openai.OpenAI, job_id: str) -> list[int]:
    return [e.data["step"] for e in _events(client, job_id) if e.type == "metrics"]


def _ray_events(client: openai.OpenAI, job_id: str) -> list[Any]:
    return [e for e in _events(client, job_id) if e.message.startswith("Running on Ray")]


def _role_events(client: openai.OpenAI, job_id: str, role: str) -> list[Any]:
    """The events listing the job's Ray actors of ``role`` (one per run of the job)."""
    return [e for e in _events(client, job_id) if (e.data or {}).get("ray_role") == role]


def _until(what: str, check: Any, timeout_s: float = JOB_TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return found


def _shape(message: str) -> str:
    """An event message without its numbers and ids (rewards, model names, step counts)."""
    return re.sub(r"ft:\S+|\b[a-z]+-[A-Za-z0-9]{16,}|-?\d+(\.\d+)?(e-?\d+)?", "#", message)


def test_serve_fails_at_startup_on_an_unreachable_ray_address(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    serve = [str(OPENRFT_BIN), "serve", "--data-dir", str(tmp_path), "--port", str(free_port())]
    result = subprocess.run(
        [*serve, "--executor", "ray", "--ray-address", address],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENRFT_")},
    )
    assert result.returncode == 2, result.stderr
    assert f"Cannot reach the Ray cluster at {address}" in result.stderr
    assert "ray start --head" in result.stderr


def test_job_on_ray_matches_the_same_job_run_locally(
    ray_server: ServerHandle, server: ServerHandle
) -> None:
    """rollout, trainer and reward workers, 2 of each, beside the job's actor: 7 x 0.25 CPU."""
    ray_client, local_client = ray_server.client(), server.client()
    workers = {"rollout_workers": 2, "trainer_workers": 2, "reward_workers": 2}
    on_ray = _create(ray_client, 8, resources={"num_cpus": 0.25}, **workers)
    local = _create(local_client, 8, **workers)  # the local executor warns and runs in-process
    for client, job_id in ((ray_client, on_ray), (local_client, local)):
        done = wait_for_status(client, job_id, TERMINAL, timeout_s=JOB_TIMEOUT_S)
        assert done.status == "succeeded", done.error

    (placed,) = _ray_events(ray_client, on_ray)
    assert {"actor_id", "node_id", "ray_job_id", "pid"} <= set(placed.data["ray"])
    assert placed.data["resources"]["num_cpus"] == 0.25  # the job's override of 0.5
    assert "num_cpus=0.25" in placed.message
    for role in ("rollout", "trainer", "reward"):
        (listed,) = _role_events(ray_client, on_ray, role)
        assert len(set(listed.data["actors"])) == 2, listed.message  # two actors shared it
        assert all("on node" in worker for worker in listed.data["workers"])

    def metrics(client: openai.OpenAI, job_id: str) -> list[set[str]]:
        return [set(e.data) for e in _events(client, job_id) if e.type == "metrics"]

    def checkpoints(client: openai.OpenAI, job_id: str) -> list[int]:
        return [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job_id)]

    def shapes(client: openai.OpenAI, job_id: str) -> list[tuple[str, str]]:
        events = [
            e
            for e in _events(client, job_id)
            if not e.message.startswith("Running on Ray")
            and "ray_role" not in (e.data or {})
            and "needs serve --executor ray" not in e.message
        ]
        return [(e.type, _shape(e.message)) for e in events]

    fallbacks = [
        e for e in _events(local_client, local) if "needs serve --executor ray" in e.message
    ]
    assert sorted(e.message.split("=")[0] for e in fallbacks) == sorted(workers)
    assert {e.level for e in fallbacks} == {"warn"}

    assert metrics(ray_client, on_ray) == metrics(local_client, local)
    assert len(metrics(ray_client, on_ray)) == 4
    assert checkpoints(ray_client, on_ray) == checkpoints(local_client, local) == [4, 2]
    assert shapes(ray_client, on_ray) == shapes(local_client, local)


@pytest.fixture
def ray_driver(ray_cluster: RayCluster) -> Iterator[None]:
    """This process connected to the cluster in openrft's namespace (connecting takes seconds
    on a busy machine: done before the moment a test must act)."""
    from openrft.executors.ray_executor import NAMESPACE

    ray.init(address=ray_cluster.address, namespace=NAMESPACE, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_pause_resume_cancel_and_killed_actors_on_ray(
    ray_server: ServerHandle, ray_driver: None, held_grader: HeldGrader
) -> None:
    """A job with 2 trainer workers has its trainer actor killed (ray.kill on the named actor)
    while its grader holds step 3: it resumes from its checkpoint of step 2 and succeeds with
    each step's metrics event once. Beside it, a job without workers is paused and resumed,
    then its own actor is killed (SIGKILL): it resumes from its checkpoint and is cancelled.
    The second job's runs need no worker actors, so its three starts cost less than the first
    job's two."""
    client = ray_server.client()
    lambda_grader = {"type": "lambda", "lambda": {"function": held_grader.url}}
    job_id = _create(
        client,
        40,
        lambda_grader,
        batch_size=1,
        max_steps=STEPS,
        trainer_workers=2,
        resources={"num_cpus": 0.25},
    )
    other = _create(client, OTHER_ROWS, SLOW_GRADER, batch_size=1)

    _until("the other job's step 1", lambda: _metrics_steps(client, other))
    client.fine_tuning.jobs.pause(other)
    paused = wait_for_status(client, other, {"paused"} | TERMINAL, timeout_s=JOB_TIMEOUT_S)
    assert paused.status == "paused", paused.error
    stopped_at = max(_metrics_steps(client, other))
    checkpoints = client.fine_tuning.jobs.checkpoints.list(other).data
    assert max(c.step_number for c in checkpoints) == stopped_at  # pause wrote the latest
    client.fine_tuning.jobs.resume(other)

    (trainers,) = _until("the trainer workers", lambda: _role_events(client, job_id, "trainer"))
    assert held_grader.holding.wait(timeout=JOB_TIMEOUT_S), "step 3 was never graded"
    assert _metrics_steps(client, job_id) == list(range(1, HELD_STEP))
    assert [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job_id)] == [2]
    killed = trainers.data["actors"][0]
    ray.kill(ray.get_actor(killed))
    held_grader.release.set()

    first = _until("the other job's resumed actor", lambda: _ray_events(client, other)[1:])[0]
    _until("a step after the pause", lambda: max(_metrics_steps(client, other)) > stopped_at)
    os.kill(first.data["ray"]["pid"], signal.SIGKILL)
    _until("the other job's actor after the kill", lambda: _ray_events(client, other)[2:])
    resumed_at = max(_metrics_steps(client, other))
    _until("a step after that", lambda: max(_metrics_steps(client, other)) > resumed_at)
    client.fine_tuning.jobs.cancel(other)
    assert wait_for_status(client, other, TERMINAL, JOB_TIMEOUT_S).status == "cancelled"
    (died,) = [e for e in _events(client, other) if "died" in e.message]
    assert f"The job's Ray actor {first.data['ray']['actor_id']}" in died.message
    assert "Resuming from the checkpoint of step" in died.message

    done = wait_for_status(client, job_id, TERMINAL, timeout_s=JOB_TIMEOUT_S)
    assert done.status == "succeeded", done.error
    assert _metrics_steps(client, job_id) == list(range(1, STEPS + 1))  # each step's once
    (died,) = [e for e in _events(client, job_id) if "died" in e.message]
    assert f"The job's trainer worker {killed} (actor " in died.message
    assert "Resuming from the checkpoint of step 2" in died.message
    actors = [e.data["ray"]["actor_id"] for e in _ray_events(client, job_id)]
    assert len(actors) == len(set(actors)) == 2  # the first run and the one after the kill
