"""Model graders act as their job's project, with a scoped credential that dies with the job.

Before: the training worker called the server's chat endpoint with the key the server was
started with (``OPENRFT_API_KEY``: project ``default``), or with no key when it came from
``--api-key``. A model grader in project B's job so graded as project ``default`` (with its
models), or failed with 401 on a keyed server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import openai
import pytest

from openrft.services.job_credentials import JobCredentials
from openrft.services.job_runtime import JobRuntime
from openrft.services.keys import KeyService
from openrft.settings import Settings
from openrft.worker import grader_context
from tests.integration.conftest import (
    RFT_API_KEY,
    ServerHandle,
    start_waiting_job,
    wait_for_status,
)
from tests.integration.test_auth import create_key

PROJECT = "credential-b"
CHAT = "/v1/chat/completions"


@pytest.fixture
def running_job(rft_server: ServerHandle) -> Iterator[tuple[openai.OpenAI, str]]:
    """A running job (fake worker, waiting) of a second project, cancelled afterwards."""
    client = rft_server.client(create_key(rft_server, PROJECT))
    job_id = start_waiting_job(client)
    yield client, job_id
    if client.fine_tuning.jobs.retrieve(job_id).status == "running":
        client.fine_tuning.jobs.cancel(job_id)


def _chat(server: ServerHandle, key: str) -> None:
    """A grader's chat call, naming a model no project has: authentication passes exactly when
    the answer is a 404 (nothing is generated, so the call is quick)."""
    with pytest.raises(openai.NotFoundError):
        server.client(key).chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "grade this"}]
        )


def test_the_workers_grader_key_is_a_credential_of_the_jobs_project(
    rft_server: ServerHandle, running_job: tuple[openai.OpenAI, str]
) -> None:
    client, job_id = running_job
    settings = Settings(data_dir=rft_server.data_dir)
    runtime = JobRuntime(settings)
    credential = grader_context(runtime, settings, runtime.load(job_id)).api_key
    assert credential is not None and credential != RFT_API_KEY
    keys = KeyService(runtime.sessions, JobCredentials(rft_server.data_dir))
    assert keys.authenticate(f"Bearer {credential}", CHAT) == PROJECT
    _chat(rft_server, credential)  # the grader's call is let through

    with pytest.raises(openai.PermissionDeniedError) as info:  # nothing but chat
        rft_server.client(credential).files.list()
    assert info.value.code == "insufficient_scope"

    client.fine_tuning.jobs.cancel(job_id)
    wait_for_status(client, job_id, {"cancelled"})
    with pytest.raises(openai.AuthenticationError):  # dies with the job run
        _chat(rft_server, credential)


def test_forged_or_expired_credentials_are_refused(
    rft_server: ServerHandle, running_job: tuple[openai.OpenAI, str]
) -> None:
    _, job_id = running_job
    credentials = JobCredentials(rft_server.data_dir)
    expired = credentials.issue(job_id, PROJECT, lifetime_s=-1)
    genuine = credentials.issue(job_id, PROJECT, 600)
    payload, signature = genuine.removeprefix("sk-openrft-job-").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["project"] = "default"  # the same job, claimed for another project
    altered = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = f"sk-openrft-job-{altered}.{signature}"
    other_secret = JobCredentials(rft_server.data_dir.parent / "elsewhere").issue(
        job_id, PROJECT, 600
    )
    for bad in (expired, forged, other_secret, f"{genuine}x"):
        with pytest.raises(openai.AuthenticationError):
            _chat(rft_server, bad)
