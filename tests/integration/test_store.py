"""Store tests: services, repositories and JobRuntime on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from openrft.db.engine import upgrade_database
from openrft.db.jobs_repo import JobRepository
from openrft.domain.jobs import CreateJob, IllegalTransition, JobStatus
from openrft.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from openrft.executors.local import LocalExecutor
from tests.integration.store_fixtures import Store

ROW = {"messages": [{"role": "user", "content": "2+2?"}], "reference_answer": "4"}
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "eq",
}


def _upload(store: Store, project: str = "p1", rows: int = 3) -> str:
    data = "\n".join(json.dumps(ROW) for _ in range(rows)).encode()
    return store.files.create(project, "train.jsonl", "fine-tune", data).id


def _job(store: Store, project: str = "p1", **overrides: object) -> str:
    request = CreateJob(
        model="tiny-random-llama",
        training_file=_upload(store, project),
        method={"type": "reinforcement", "reinforcement": {"grader": GRADER}},
        **overrides,  # type: ignore[arg-type]
    )
    return store.jobs.create(project, request).id


def test_files_page_in_both_orders_and_filter_by_purpose(store: Store) -> None:
    ids = [_upload(store) for _ in range(3)]
    other = store.files.create("p1", "notes.txt", "assistants", b"hello").id
    first = store.files.list("p1", limit=2)
    assert [f.id for f in first.data] == [other, ids[2]] and first.has_more
    rest = store.files.list("p1", limit=2, after=first.data[-1].id)
    assert [f.id for f in rest.data] == [ids[1], ids[0]] and not rest.has_more
    ascending = store.files.list("p1", order="asc", purpose="fine-tune")
    assert [f.id for f in ascending.data] == ids
    assert store.files.content("p1", other) == b"hello"


def test_files_are_isolated_per_project_and_deleted_with_their_blob(store: Store) -> None:
    file_id = _upload(store, "p1")
    with pytest.raises(NotFoundError):
        store.files.retrieve("p2", file_id)
    assert store.files.list("p2").data == []
    with pytest.raises(NotFoundError):
        store.files.delete("p2", file_id)
    store.files.delete("p1", file_id)
    assert not store.blobs.exists(f"files/{file_id}")
    with pytest.raises(NotFoundError):
        store.files.content("p1", file_id)


def test_rejected_upload_leaves_no_blob_and_no_row(store: Store) -> None:
    with pytest.raises(InvalidRequestError, match="line 2"):
        store.files.create("p1", "t.jsonl", "fine-tune", json.dumps(ROW).encode() + b"\n{")
    assert store.files.list("p1").data == []
    assert store.blobs.size("files") == 0
    assert list(store.blobs.staging_dir().iterdir()) == []


def test_keys_authenticate_their_project(store: Store) -> None:
    assert store.keys.authenticate(None) == "default"
    key = store.keys.create("team-a")
    store.keys.register("default", "sk-fixed")
    store.keys.register("default", "sk-fixed")
    assert store.keys.authenticate(f"Bearer {key}") == "team-a"
    assert store.keys.authenticate("Bearer sk-fixed") == "default"
    for header in (None, "Bearer nope", "Basic abc"):
        with pytest.raises(AuthenticationError):
            store.keys.authenticate(header)


def test_job_create_queues_and_lists_with_metadata_filter(store: Store) -> None:
    a = _job(store, metadata={"team": "x"})
    b = _job(store, metadata={"team": "y"})
    c = _job(store, metadata={"team": "x"})
    job = store.jobs.retrieve("p1", a)
    assert job.status == JobStatus.QUEUED
    assert job.hyperparameters["batch_size"] == 3
    page, more = store.jobs.list("p1", after=None, limit=2, metadata={})
    assert [j.id for j in page] == [c, b] and more
    page, more = store.jobs.list("p1", after=b, limit=2, metadata={})
    assert [j.id for j in page] == [a] and not more
    page, more = store.jobs.list("p1", after=None, limit=1, metadata={"team": "x"})
    assert [j.id for j in page] == [c] and more
    page, more = store.jobs.list("p1", after=c, limit=1, metadata={"team": "x"})
    assert [j.id for j in page] == [a] and not more
    assert store.jobs.list("p2", after=None, limit=10, metadata={}) == ([], False)
    messages = [e.message for e in store.jobs.events("p1", a, after=None, limit=10)[0]]
    assert messages[0].startswith("Files validated") and messages[-1].startswith("Created")


def test_claim_is_atomic_across_concurrent_schedulers(store: Store, tmp_path: Path) -> None:
    job_ids = {_job(store) for _ in range(3)}
    sessions = store.jobs.sessions
    executors = [LocalExecutor(sessions, data_dir=tmp_path, worker_env={}) for _ in range(4)]
    claims: list[str | None] = []
    barrier = threading.Barrier(len(executors))

    def claim(executor: LocalExecutor) -> None:
        barrier.wait()
        claims.append(executor._claim())

    threads = [threading.Thread(target=claim, args=(e,)) for e in executors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [c for c in claims if c is not None]
    assert sorted(claimed) == sorted(job_ids)
    assert claims.count(None) == 1
    assert all(store.jobs.retrieve("p1", j).status == JobStatus.RUNNING for j in job_ids)


def _run(store: Store, job_id: str) -> None:
    """The scheduler's claim, done by hand."""
    with store.jobs.sessions.begin() as session:
        assert JobRepository(session).transition(
            job_id, JobStatus.RUNNING, source=JobStatus.QUEUED, message="Fine-tuning job started"
        )


def test_runtime_checkpoints_finish_and_models(store: Store, tmp_path: Path) -> None:
    job_id = _job(store, suffix="math")
    _run(store, job_id)
    spec = store.runtime.load(job_id)
    assert spec.training_file_path.read_bytes().count(b"\n") == 2
    assert spec.resume_from is None and spec.grader["type"] == "string_check"
    src = tmp_path / "ckpt"
    src.mkdir()
    for step in (1, 2, 3):
        (src / "adapter_model.safetensors").write_bytes(f"weights {step}".encode())
        store.runtime.add_checkpoint(job_id, step, {"valid_reward_mean": step / 10}, src)
    store.runtime.delete_checkpoint(job_id, 1)
    store.runtime.add_event(job_id, "step 3", type="metrics", data={"step": 3})
    store.runtime.update_progress(job_id, trained_tokens=1234, estimated_finish=None)
    result = store.runtime.add_result_file(job_id, "metrics.csv", b"step,reward\n")
    assert store.runtime.control_request(job_id) is None
    store.runtime.finish(job_id, "succeeded", fine_tuned_step=2)

    job = store.jobs.retrieve("p1", job_id)
    expected = f"ft:tiny-random-llama:p1:math:{job_id}"
    assert (job.status, job.fine_tuned_model, job.trained_tokens) == (
        JobStatus.SUCCEEDED,
        expected,
        1234,
    )
    assert job.result_files == [result] and job.finished_at is not None
    assert store.files.retrieve("p1", result).purpose == "fine-tune-results"
    checkpoints, more = store.jobs.checkpoints("p1", job_id, after=None, limit=1)
    assert [c.step_number for c in checkpoints] == [3] and more
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{expected}:ckpt-step-3"
    rest, more = store.jobs.checkpoints("p1", job_id, after=checkpoints[0].id, limit=5)
    assert [c.step_number for c in rest] == [2] and not more

    ids = [m.id for m in store.models.list("p1")]
    assert ids == [
        "tiny-random-llama",
        "base-b",
        f"{expected}:ckpt-step-2",
        f"{expected}:ckpt-step-3",
        expected,
    ]
    resolved = store.models.resolve("p1", expected)
    assert resolved.base_model == "tiny-random-llama"
    assert resolved.adapter_dir is not None
    assert (resolved.adapter_dir / "adapter_model.safetensors").read_bytes() == b"weights 2"
    with pytest.raises(NotFoundError):
        store.models.resolve("p2", expected)
    with pytest.raises(PermissionDeniedError):
        store.models.delete("p1", "tiny-random-llama")
    store.models.delete("p1", f"{expected}:ckpt-step-2")
    assert (resolved.adapter_dir / "adapter_model.safetensors").exists()
    store.models.delete("p1", expected)
    assert not resolved.adapter_dir.exists()
    with pytest.raises(NotFoundError):
        store.models.retrieve("p1", expected)


def test_lifecycle_through_service_and_runtime(store: Store, tmp_path: Path) -> None:
    job_id = _job(store)
    assert store.jobs.pause("p1", job_id).status == JobStatus.PAUSED
    assert store.jobs.resume("p1", job_id).status == JobStatus.QUEUED
    _run(store, job_id)
    running = store.jobs.pause("p1", job_id)
    assert (running.status, running.control) == (JobStatus.RUNNING, "pause")
    assert store.runtime.control_request(job_id) == "pause"
    with pytest.raises(InvalidRequestError, match="already pending"):
        store.jobs.cancel("p1", job_id)
    src = tmp_path / "c"
    src.mkdir()
    (src / "w").write_bytes(b"1")
    store.runtime.add_checkpoint(job_id, 4, {}, src)
    store.runtime.finish(job_id, "paused")
    assert store.jobs.retrieve("p1", job_id).status == JobStatus.PAUSED
    store.jobs.resume("p1", job_id)
    _run(store, job_id)
    assert store.runtime.load(job_id).resume_from == store.blobs.local_path(
        f"checkpoints/{job_id}/step-4"
    )
    store.jobs.cancel("p1", job_id)
    assert store.runtime.control_request(job_id) == "cancel"
    store.runtime.finish(job_id, "failed", error={"code": "oom", "message": "out of memory"})
    failed = store.jobs.retrieve("p1", job_id)
    assert failed.error == {"code": "oom", "message": "out of memory", "param": None}
    with pytest.raises(InvalidRequestError, match="Cannot resume"):
        store.jobs.resume("p1", job_id)
    assert store.runtime.control_request(job_id) == "cancel"  # not running: stop


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_action_racing_the_scheduler_acts_on_the_fresh_status(
    store: Store, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    """The scheduler claims the job between the service's read and its write: the action is
    decided again on 'running' (a control request) instead of failing the caller's request."""
    job_id = _job(store)
    real_retrieve = store.jobs.retrieve
    reads = []

    def retrieve_then_claim(project: str, jid: str):  # type: ignore[no-untyped-def]
        job = real_retrieve(project, jid)
        reads.append(job.status)
        if len(reads) == 1:
            _run(store, jid)
        return job

    monkeypatch.setattr(store.jobs, "retrieve", retrieve_then_claim)
    job = store.jobs.__getattribute__(action)("p1", job_id)
    assert reads[:2] == [JobStatus.QUEUED, JobStatus.RUNNING]
    assert (job.status, job.control) == (JobStatus.RUNNING, action)
    assert store.runtime.control_request(job_id) == action


def test_success_reported_after_cancel_registers_no_model(store: Store, tmp_path: Path) -> None:
    job_id = _job(store)
    _run(store, job_id)
    src = tmp_path / "ckpt"
    src.mkdir()
    (src / "w").write_bytes(b"1")
    store.runtime.add_checkpoint(job_id, 1, {}, src)
    with store.jobs.sessions.begin() as session:  # the scheduler gave up on the worker
        JobRepository(session).transition(job_id, JobStatus.CANCELLED, message="Job cancelled")
    store.runtime.finish(job_id, "succeeded", fine_tuned_step=1)
    job = store.jobs.retrieve("p1", job_id)
    assert (job.status, job.fine_tuned_model) == (JobStatus.CANCELLED, None)
    assert not [m for m in store.models.list("p1") if m.id.endswith(job_id)]
    assert not store.blobs.exists(f"models/{job_id}")


def _events(store: Store, job_id: str) -> list[str]:
    events, _ = store.jobs.events("p1", job_id, after=None, limit=100)
    return [event.message for event in events]


def test_transition_changes_status_and_records_its_event_together(store: Store) -> None:
    job_id = _job(store)
    with store.jobs.sessions.begin() as session:
        jobs = JobRepository(session)
        assert jobs.transition(job_id, JobStatus.RUNNING, message="started", worker="w")
    assert store.jobs.retrieve("p1", job_id).status == JobStatus.RUNNING
    assert _events(store, job_id)[0] == "started"


@pytest.mark.parametrize(
    ("source", "target"),
    [(JobStatus.QUEUED, JobStatus.SUCCEEDED), (JobStatus.SUCCEEDED, JobStatus.RUNNING)],
)
def test_illegal_transition_is_refused_and_writes_nothing(
    store: Store, source: JobStatus, target: JobStatus
) -> None:
    job_id = _job(store)
    before = _events(store, job_id)
    with (
        pytest.raises(IllegalTransition, match="illegal job transition"),
        store.jobs.sessions.begin() as session,
    ):
        JobRepository(session).transition(job_id, target, source=source, message="no")
    assert store.jobs.retrieve("p1", job_id).status == JobStatus.QUEUED
    assert _events(store, job_id) == before


def test_transition_from_a_status_the_job_is_not_in_changes_nothing(store: Store) -> None:
    job_id = _job(store)  # queued
    before = _events(store, job_id)
    with store.jobs.sessions.begin() as session:
        moved = JobRepository(session).transition(
            job_id, JobStatus.SUCCEEDED, source=JobStatus.RUNNING, message="done"
        )
    assert not moved
    assert store.jobs.retrieve("p1", job_id).status == JobStatus.QUEUED
    assert _events(store, job_id) == before


def test_a_terminal_job_never_changes_status_again(store: Store) -> None:
    job_id = _job(store)
    store.jobs.cancel("p1", job_id)
    with store.jobs.sessions.begin() as session:
        jobs = JobRepository(session)
        assert not any(jobs.transition(job_id, target, message="x") for target in JobStatus)
    assert store.jobs.retrieve("p1", job_id).status == JobStatus.CANCELLED


def test_update_cannot_change_status(store: Store) -> None:
    job_id = _job(store)
    with pytest.raises(ValueError, match="not updatable"), store.jobs.sessions.begin() as session:
        JobRepository(session).update(job_id, status=JobStatus.RUNNING)


def test_non_finite_metrics_are_stored_as_null(store: Store, tmp_path: Path) -> None:
    job_id = _job(store)
    _run(store, job_id)
    store.runtime.add_event(
        job_id, "step", type="metrics", data={"kl": float("nan"), "r": [1.0, float("inf")]}
    )
    src = tmp_path / "ckpt"
    src.mkdir()
    store.runtime.add_checkpoint(job_id, 1, {"a": 0.5, "b": float("nan"), "c": None}, src)
    (event,) = [e for e in store.jobs.events("p1", job_id, after=None, limit=1)[0]]
    assert event.data == {"kl": None, "r": [1.0, None]}
    (checkpoint,) = store.jobs.checkpoints("p1", job_id, after=None, limit=5)[0]
    assert checkpoint.metrics == {"a": 0.5}


def test_a_step_reported_again_after_a_resume_keeps_one_metrics_event(store: Store) -> None:
    job_id = _job(store)
    _run(store, job_id)
    for step, reward in ((1, 0.1), (2, 0.2), (2, 0.3)):  # step 2 again: resumed from step 1
        store.runtime.add_event(
            job_id, f"step {step}", type="metrics", data={"step": step, "r": reward}
        )
    events = store.jobs.events("p1", job_id, after=None, limit=20)[0]
    assert [e.data for e in events if e.type == "metrics"] == [
        {"step": 2, "r": 0.3},
        {"step": 1, "r": 0.1},
    ]


def test_migrating_an_up_to_date_database_again_is_a_no_op(store: Store) -> None:
    file_id = _upload(store)
    upgrade_database(store.engine)
    assert store.files.retrieve("p1", file_id).id == file_id


def test_job_whose_file_content_vanished_fails_validation(store: Store) -> None:
    file_id = _upload(store)
    store.blobs.delete(f"files/{file_id}")
    method = {"type": "reinforcement", "reinforcement": {"grader": GRADER}}
    job = store.jobs.create("p1", CreateJob("tiny-random-llama", file_id, method=method))
    assert job.status == JobStatus.FAILED
    assert job.error is not None and job.error["param"] == "training_file"
    assert "upload the file again" in job.error["message"]


@pytest.mark.parametrize("store", ["memory"], indirect=True)
def test_upload_and_checkpoint_round_trip_through_memory_storage(
    store: Store, tmp_path: Path
) -> None:
    """With ``storage_url=memory://...`` the upload, the checkpoint and the fine-tuned model
    live in fsspec's memory file system, and the data dir is never created; the worker and
    inference, which need paths, get local copies in the blob cache."""
    job_id = _job(store, suffix="mem")
    _run(store, job_id)
    src = tmp_path / "scratch"
    src.mkdir()
    (src / "adapter_model.safetensors").write_bytes(b"weights")
    (src / "trainer").mkdir()
    (src / "trainer" / "state.pt").write_bytes(b"optimizer")
    store.runtime.add_checkpoint(job_id, 1, {}, src)
    store.runtime.finish(job_id, "succeeded")

    spec = store.runtime.load(job_id)
    cache = tmp_path / "blob-cache"
    assert spec.training_file_path.is_relative_to(cache)
    assert spec.training_file_path.read_bytes().count(b"\n") == 2
    assert spec.resume_from is not None and spec.resume_from.is_relative_to(cache)
    assert (spec.resume_from / "trainer" / "state.pt").read_bytes() == b"optimizer"
    model = store.models.resolve("p1", f"ft:tiny-random-llama:p1:mem:{job_id}")
    assert model.adapter_dir is not None
    assert (model.adapter_dir / "adapter_model.safetensors").read_bytes() == b"weights"

    in_memory = store.blobs.fs.find(store.blobs.root)
    keys = sorted(path[len(store.blobs.root) + 1 :] for path in in_memory)
    assert f"checkpoints/{job_id}/step-1/trainer/state.pt" in keys
    assert f"models/{job_id}/adapter_model.safetensors" in keys
    assert f"files/{spec.training_file_path.name}" in keys
    assert not store.settings.data_dir.exists()
