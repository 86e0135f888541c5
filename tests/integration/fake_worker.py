"""A stand-in training worker for control-plane tests: drives the real JobRuntime.

``python fake_worker.py JOB_ID``; the behaviour comes from the job's ``metadata["fake_worker"]``:
``succeed`` (default: two steps, checkpoints, a result file), ``wait`` (idle until a pause or
cancel request; pause writes a checkpoint), ``crash`` (prints to stderr, exits with code 3).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from openrft.db.jobs_repo import JobRepository
from openrft.services.job_runtime import JobRuntime
from openrft.settings import Settings

POLL_S = 0.1
WAIT_LIMIT_S = 120.0


def _checkpoint(runtime: JobRuntime, job_id: str, step: int, reward: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "adapter_model.safetensors").write_bytes(f"step {step}".encode())
        runtime.add_checkpoint(job_id, step, {"train_reward_mean": reward}, Path(tmp))


def succeed(runtime: JobRuntime, job_id: str) -> None:
    for step in (1, 2):
        data = {"step": step, "total_steps": 2, "train_reward_mean": step / 4}
        runtime.add_event(job_id, f"Step {step}/2", type="metrics", data=data)
        _checkpoint(runtime, job_id, step, step / 4)
        runtime.update_progress(job_id, trained_tokens=100 * step, estimated_finish=None)
    runtime.add_result_file(job_id, "step_metrics.csv", b"step,train_reward_mean\n1,0.25\n2,0.5\n")
    runtime.finish(job_id, "succeeded", fine_tuned_step=2)


def wait(runtime: JobRuntime, job_id: str, resume_from: Path | None) -> None:
    step = 1
    if resume_from is not None:
        step = int(resume_from.name.removeprefix("step-")) + 1
        runtime.add_event(job_id, f"Resumed from {resume_from.name}")
    runtime.add_event(job_id, f"Waiting at step {step}")
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        request = runtime.control_request(job_id)
        if request == "pause":
            _checkpoint(runtime, job_id, step, 0.0)
            runtime.finish(job_id, "paused")
            return
        if request == "cancel":
            runtime.finish(job_id, "cancelled")
            return
        time.sleep(POLL_S)
    runtime.finish(job_id, "failed", error={"code": "timeout", "message": "fake worker gave up"})


def main(job_id: str) -> int:
    runtime = JobRuntime(Settings())
    spec = runtime.load(job_id)
    with runtime.sessions() as session:
        job = JobRepository(session).get(job_id)
    mode = ((job.metadata if job else None) or {}).get("fake_worker", "succeed")
    if mode == "crash":
        print("fake worker: simulated out-of-memory", file=sys.stderr)
        return 3
    if mode == "wait":
        wait(runtime, job_id, spec.resume_from)
    else:
        succeed(runtime, job_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
