"""Keys and tenancy: 401 without a valid key, 404 across projects, keys made by the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import openai
import pytest

from openrft.api.app import StartupRefusedError, build_services
from openrft.settings import Settings
from tests.integration.conftest import (
    OPENRFT_BIN,
    RFT_API_KEY,
    ServerHandle,
    rft_method,
    upload_jsonl,
    wait_for_status,
)


def create_key(server: ServerHandle, project: str) -> str:
    """``openrft keys create`` against the running server's data dir."""
    out = subprocess.run(
        [
            str(OPENRFT_BIN),
            "keys",
            "create",
            "--project",
            project,
            "--data-dir",
            str(server.data_dir),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def test_missing_or_wrong_key_is_401(rft_server: ServerHandle) -> None:
    for key in ("no-key", "sk-wrong"):
        with pytest.raises(openai.AuthenticationError) as info:
            rft_server.client(key).files.list()
        assert info.value.code == "invalid_api_key"
    response = httpx.get(f"{rft_server.base_url}/models")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]["message"]
    assert httpx.get(f"{rft_server.root_url}/health").status_code == 200


def test_projects_cannot_see_each_others_objects(rft_server: ServerHandle) -> None:
    owner = rft_server.client(RFT_API_KEY)
    intruder = rft_server.client(create_key(rft_server, "team-b"))
    file_id = upload_jsonl(owner)
    job = owner.fine_tuning.jobs.create(
        model="tiny-random-llama", training_file=file_id, method=rft_method()
    )
    done = wait_for_status(owner, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded"

    for call in (
        lambda: intruder.files.retrieve(file_id),
        lambda: intruder.files.content(file_id),
        lambda: intruder.files.delete(file_id),
        lambda: intruder.fine_tuning.jobs.retrieve(job.id),
        lambda: intruder.fine_tuning.jobs.cancel(job.id),
        lambda: intruder.fine_tuning.jobs.list_events(job.id),
        lambda: intruder.fine_tuning.jobs.checkpoints.list(job.id),
        lambda: intruder.models.retrieve(done.fine_tuned_model),
        lambda: intruder.models.delete(done.fine_tuned_model),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.BadRequestError) as info:
        intruder.fine_tuning.jobs.create(
            model="tiny-random-llama", training_file=file_id, method=rft_method()
        )
    assert info.value.param == "training_file"
    assert intruder.files.list().data == []
    assert intruder.fine_tuning.jobs.list().data == []
    assert not [m for m in intruder.models.list() if m.id.startswith("ft:")]
    assert owner.models.retrieve(done.fine_tuned_model).owned_by == "default"


def test_keys_create_rejects_a_bad_project_name(rft_server: ServerHandle) -> None:
    out = subprocess.run(
        [
            str(OPENRFT_BIN),
            "keys",
            "create",
            "--project",
            "a:b",
            "--data-dir",
            str(rft_server.data_dir),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "Invalid project name" in out.stderr


def test_metrics_count_requests_and_jobs(rft_server: ServerHandle) -> None:
    rft_server.client(RFT_API_KEY).files.list()
    text = httpx.get(f"{rft_server.root_url}/metrics").text
    assert 'openrft_http_requests_total{method="GET",route="/v1/files",status="200"}' in text
    assert 'openrft_jobs{status="queued"}' in text
    assert "openrft_http_request_duration_seconds_bucket" in text


def test_serve_refuses_keyless_on_a_public_address(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            str(OPENRFT_BIN),
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "1",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "Refusing to serve without an API key on 0.0.0.0" in out.stderr


def test_jobs_follow_prints_progress_until_the_job_ends(rft_server: ServerHandle) -> None:
    client = rft_server.client(RFT_API_KEY)
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama", training_file=upload_jsonl(client), method=rft_method()
    )
    out = subprocess.run(
        [
            str(OPENRFT_BIN),
            "jobs",
            "follow",
            job.id,
            "--base-url",
            rft_server.base_url,
            "--api-key",
            RFT_API_KEY,
            "--interval",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "succeeded" in out.stdout
    assert "2/2" in out.stdout and "0.5000" in out.stdout
    assert "The job has successfully completed" in out.stdout


def test_serve_refuses_the_ray_executor_without_an_address(tmp_path: Path) -> None:
    settings = Settings(executor="ray", data_dir=tmp_path)
    with pytest.raises(StartupRefusedError, match="--executor ray needs --ray-address HOST:PORT"):
        build_services(settings)
    assert not (tmp_path / "openrft.db").exists()
