"""The per-project disk quota counts checkpoints and fine-tuned weights, not only uploads: a
checkpoint past it fails its job with nothing stored, and a project that fills it gets no new
job and no upload (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrft.db.jobs_repo import JobRepository
from openrft.domain.jobs import CreateJob, JobStatus
from openrft.errors import PayloadTooLargeError
from openrft.services.files import FileService
from openrft.services.job_runtime import JobRuntime
from openrft.services.quota import ProjectQuota, QuotaExceededError
from tests.integration.conftest import start_server, wait_for_status
from tests.integration.store_fixtures import Store

ROW = b'{"messages": [{"role": "user", "content": "hi"}]}\n'
GRADER = {"type": "string_check", "name": "g", "input": "a", "reference": "a", "operation": "eq"}
QUOTA = 10_000


def _weights(tmp_path: Path, name: str, size: int) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "adapter_model.safetensors").write_bytes(b"w" * size)
    return folder


def _running_job(store: Store) -> str:
    upload = store.files.create("p1", "train.jsonl", "fine-tune", ROW * 2)
    request = CreateJob(
        model="tiny-random-llama",
        training_file=upload.id,
        method={"type": "reinforcement", "reinforcement": {"grader": GRADER}},
    )
    job_id = store.jobs.create("p1", request).id
    with store.jobs.sessions.begin() as session:
        JobRepository(session).transition(
            job_id, JobStatus.RUNNING, source=JobStatus.QUEUED, message="started"
        )
    return job_id


def test_checkpoints_and_fine_tuned_weights_count_in_the_quota(
    store: Store, tmp_path: Path
) -> None:
    sessions = store.jobs.sessions
    settings = store.settings.model_copy(update={"project_disk_quota_bytes": QUOTA})
    runtime = JobRuntime(settings, engine=store.engine)
    quota = ProjectQuota(sessions, QUOTA)
    job_id = _running_job(store)
    uploads = quota.used("p1")
    assert uploads == len(ROW) * 2

    runtime.add_checkpoint(job_id, 1, {}, _weights(tmp_path, "s1", 4000))
    runtime.add_checkpoint(job_id, 1, {}, _weights(tmp_path, "s1b", 4000))  # a re-run step
    assert quota.used("p1") == uploads + 4000
    with pytest.raises(QuotaExceededError) as info:
        runtime.add_checkpoint(job_id, 2, {}, _weights(tmp_path, "s2", 6000))
    assert info.value.code == "quota_exceeded" and info.value.status == 403
    assert "OPENRFT_PROJECT_DISK_QUOTA_BYTES" in info.value.message
    assert "step 2" in info.value.message
    assert not store.blobs.exists(f"checkpoints/{job_id}/step-2")
    assert quota.used("p1") == uploads + 4000

    # The fine-tuned model hard-links step 1: counted once, and still once the checkpoint goes.
    runtime.finish(job_id, "succeeded", fine_tuned_step=1)
    assert quota.used("p1") == uploads + 4000
    checkpoint = next(m for m in store.models.list("p1") if ":ckpt-step-1" in m.id)
    store.models.delete("p1", checkpoint.id)
    assert quota.used("p1") == uploads + 4000
    assert quota.used("p2") == 0


def test_a_full_project_gets_no_new_job_and_no_upload(store: Store, tmp_path: Path) -> None:
    sessions = store.jobs.sessions
    settings = store.settings.model_copy(update={"project_disk_quota_bytes": QUOTA})
    runtime = JobRuntime(settings, engine=store.engine)
    job_id = _running_job(store)
    store.jobs.quota = ProjectQuota(sessions, QUOTA)
    runtime.add_checkpoint(job_id, 1, {}, _weights(tmp_path, "s1", QUOTA - len(ROW) * 2))
    files = FileService(sessions, store.blobs, 1 << 20, project_quota_bytes=QUOTA)
    with pytest.raises(PayloadTooLargeError, match="checkpoints"):
        files.create("p1", "more.jsonl", "fine-tune", ROW)
    upload = store.files.create("p1", "again.jsonl", "fine-tune", ROW)  # no quota: fits
    request = CreateJob(
        model="tiny-random-llama",
        training_file=upload.id,
        method={"type": "reinforcement", "reinforcement": {"grader": GRADER}},
    )
    with pytest.raises(QuotaExceededError, match="OPENRFT_PROJECT_DISK_QUOTA_BYTES"):
        store.jobs.create("p1", request)


def test_a_job_whose_checkpoint_passes_the_quota_fails_clearly(tmp_path: Path) -> None:
    env = {"OPENRFT_PROJECT_DISK_QUOTA_BYTES": "5000"}  # the rows fit, no checkpoint does
    with start_server(tmp_path / "server", env=env) as server:
        client = server.client()
        rows = b"".join(
            json.dumps({"messages": [{"role": "user", "content": f"Say {i}"}]}).encode() + b"\n"
            for i in range(4)
        )
        upload = client.files.create(file=("train.jsonl", rows), purpose="fine-tune")
        hyperparameters = {"batch_size": 2, "group_size": 2, "max_steps": 1, "eval_samples": 1}
        job = client.fine_tuning.jobs.create(
            model="tiny-random-llama",
            training_file=upload.id,
            method={
                "type": "reinforcement",
                "reinforcement": {"grader": GRADER, "hyperparameters": hyperparameters},
            },
        )
        done = wait_for_status(client, job.id, {"succeeded", "failed"}, timeout_s=600)
        assert done.status == "failed" and done.error is not None, server.log_tail()
        assert done.error.code == "quota_exceeded"
        assert "OPENRFT_PROJECT_DISK_QUOTA_BYTES" in done.error.message
        assert client.models.list().data  # the server is still up
        assert not (server.data_dir / "blobs" / "checkpoints" / job.id).exists() or not any(
            (server.data_dir / "blobs" / "checkpoints" / job.id).iterdir()
        )
