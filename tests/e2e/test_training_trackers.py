"""A real tiny-random-llama job with both experiment trackers of ``integrations``: W&B in
offline mode (its run directory is read back record by record) and MLflow on the server's
default SQLite store (read back with the MLflow client)."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PRODUCT_STEP_METRICS, require_module
from tests.e2e.conftest import KNOWN_GRADER, rows, upload
from tests.integration.conftest import start_server, wait_for_status

wandb_pb = require_module("wandb.proto.wandb_internal_pb2")
mlflow_tracking = require_module("mlflow.tracking")
# MLflow's own SQL store configures its mappers with SQLAlchemy's deprecated ``noload``.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")

HYPERPARAMETERS = {
    "batch_size": 2,
    "group_size": 2,
    "n_epochs": 1,
    "eval_interval": 2,
    "eval_samples": 1,
    "max_completion_tokens": 6,
    "lora_rank": 4,
    "lora_alpha": 8,
}
STEPS = 3  # 6 training rows, batch size 2
# The W&B transaction log: a 7-byte file header, then LevelDB-log records in 32 KiB blocks.
WANDB_HEADER = struct.Struct("<4sHB")
RECORD_HEADER = struct.Struct("<IHB")
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path) -> Iterator[Any]:
    """Every protobuf ``Record`` of a ``.wandb`` file, checksums verified."""
    data = path.read_bytes()
    ident, _magic, _version = WANDB_HEADER.unpack_from(data)
    assert ident == b":W&B"
    pos, pending = WANDB_HEADER.size, b""
    while pos + RECORD_HEADER.size <= len(data):
        room = BLOCK - pos % BLOCK
        if room < RECORD_HEADER.size:  # block trailer padding
            pos += room
            continue
        crc, length, kind = RECORD_HEADER.unpack_from(data, pos)
        if kind == 0 and length == 0:
            break
        payload = data[pos + RECORD_HEADER.size : pos + RECORD_HEADER.size + length]
        assert zlib.crc32(payload, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF == crc
        pos += RECORD_HEADER.size + length
        pending += payload
        if kind in (FULL, LAST):
            record = wandb_pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def wandb_history(path: Path) -> dict[int, dict[str, str]]:
    """step → {key: JSON value} of every history row of the run."""
    history: dict[int, dict[str, str]] = {}
    for record in wandb_records(path):
        if record.WhichOneof("record_type") == "history":
            row = history.setdefault(record.history.step.num, {})
            for item in record.history.item:
                row[item.key or ".".join(item.nested_key)] = item.value_json
    return history


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, list[Any]]]:
    """(finished job, data dir, its metrics events in step order)."""
    data_dir = tmp_path_factory.mktemp("openrft-trackers")
    env = {"WANDB_MODE": "offline", "WANDB_DIR": "", "WANDB_API_KEY": ""}
    with start_server(data_dir, env=env) as server:
        client = server.client()
        job = client.fine_tuning.jobs.create(
            model="tiny-random-llama",
            training_file=upload(client, rows(6), "train.jsonl"),
            validation_file=upload(client, rows(2, 100), "valid.jsonl"),
            seed=3,
            method={
                "type": "reinforcement",
                "reinforcement": {"grader": KNOWN_GRADER, "hyperparameters": HYPERPARAMETERS},
            },
            integrations=[
                {"type": "wandb", "wandb": {"project": "rft", "tags": ["e2e"]}},
                {"type": "mlflow", "mlflow": {"experiment_name": "rft-e2e"}},  # type: ignore[list-item]
            ],
        )
        assert job.integrations and job.integrations[0].wandb.run_id == job.id  # type: ignore[attr-defined]
        done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, 600)
        assert done.status == "succeeded", (done.error, server.log_tail())
        events = list(client.fine_tuning.jobs.list_events(job.id, limit=1000))
        messages = [e.message for e in events]
        assert any(m.startswith("Logging to W&B run") for m in messages), messages
        assert any(m.startswith("Logging to MLflow run") for m in messages), messages
        assert not [e.message for e in events if e.level == "warn"]
        steps = sorted((e.data for e in events if e.type == "metrics"), key=lambda d: d["step"])
        assert [d["step"] for d in steps] == list(range(1, STEPS + 1))
        yield done, data_dir, steps


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def test_the_offline_wandb_run_holds_every_steps_metrics_and_samples(
    tracked: tuple[Any, Path, list[Any]],
) -> None:
    job, data_dir, steps = tracked
    [run_file] = (data_dir / "wandb" / job.id / "wandb").glob(f"offline-run-*/run-{job.id}.wandb")
    history = wandb_history(run_file)
    records = {r.WhichOneof("record_type"): r for r in wandb_records(run_file)}
    assert records["exit"].exit.exit_code == 0
    config = {i.key: json.loads(i.value_json) for i in records["run"].run.config.update}
    assert config["job_id"] == job.id and config["hyperparameters"]["batch_size"] == 2
    assert {"e2e", f"openrft/{job.id}"} <= set(records["run"].run.tags)
    for metrics in steps:
        row = history[metrics["step"]]
        assert set(row) >= PRODUCT_STEP_METRICS, sorted(PRODUCT_STEP_METRICS - set(row))
        for key, value in numeric(metrics).items():
            assert float(row[key]) == pytest.approx(value), key
        assert row["samples/train._type"] == '"table-file"'
    assert "valid_reward_mean" in history[2] and "valid_reward_mean" not in history[1]
    assert history[0]["samples/valid._type"] == '"table-file"'  # the baseline evaluation


def test_the_mlflow_run_holds_every_steps_metrics_read_back_by_its_client(
    tracked: tuple[Any, Path, list[Any]],
) -> None:
    job, data_dir, steps = tracked
    client = mlflow_tracking.MlflowClient(tracking_uri=f"sqlite:///{data_dir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("rft-e2e")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.data.tags["openrft.job_id"] == job.id
    assert run.info.run_name == job.id and run.info.status == "FINISHED"
    assert run.data.params["hyperparameters.batch_size"] == "2"
    for key in PRODUCT_STEP_METRICS | {"completions/clipped_ratio"}:
        history = client.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in history) == list(range(1, STEPS + 1)), key
        by_step = {m.step: m.value for m in history}
        for metrics in steps:
            assert by_step[metrics["step"]] == pytest.approx(float(metrics[key])), key
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "samples")]
    assert "samples/train-step-000001.json" in artifacts
    assert "samples/valid-step-000000.json" in artifacts
