"""Finding 3 (SSRF): a tenant cannot use the server as a port scanner or a proxy into its network.

Before: validate, job creation and ``graders/run`` opened a TCP connection to any host:port named
as a Lambda URL and said whether it was refused, timed out or reachable (an internal port
scanner, cloud metadata included), and a failed job copied the first 100–200 characters of the
URL's response body into its error message. Now every tenant-chosen URL passes the egress policy
(openrft/net/egress.py) after DNS resolution, on each connection, and every failure reads alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.integration.conftest import (
    ServerHandle,
    start_server,
    upload_jsonl,
    wait_for_status,
)
from tests.integration.test_auth import create_key
from tests.unit.graders.lambda_server import LEAKED_SECRET, running_reward_server

KEY = "sk-security-egress-default"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A keyed server with no egress allow-list (the test fixture's loopback entry removed)."""
    data_dir = tmp_path_factory.mktemp("egress-keyed")
    with start_server(data_dir, api_key=KEY, env={"OPENRFT_EGRESS_ALLOW": ""}) as handle:
        yield handle


def _lambda(url: str) -> dict[str, Any]:
    return {"type": "lambda", "name": "probe", "lambda": {"function": url, "max_retries": 0}}


def _validate_error(client: openai.OpenAI, url: str) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as info:
        client.post(
            "/fine_tuning/alpha/graders/validate", body={"grader": _lambda(url)}, cast_to=object
        )
    body: dict[str, Any] = info.value.body  # type: ignore[assignment]
    return body


def test_validate_is_no_port_scanner(keyed: ServerHandle) -> None:
    """The server's own open port, a closed port, IPv4-mapped and name forms of loopback, a
    private address and the cloud metadata service: one answer for all (before: "reachable"
    for the open port, errno text for the others)."""
    port = keyed.root_url.rsplit(":", 1)[1]
    tenant = keyed.client(create_key(keyed, "scanner"))
    probes = [
        f"http://127.0.0.1:{port}/health",  # listening
        "http://127.0.0.1:1/",  # closed
        f"http://[::ffff:127.0.0.1]:{port}/health",
        f"http://localhost:{port}/health",
        f"http://0.0.0.0:{port}/health",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1:22/",
        "http://no-such-host.invalid/",
    ]
    answers = []
    for url in probes:
        body = _validate_error(tenant, url)
        assert body["param"] == "grader.lambda.function"
        answers.append(body["message"].replace(url, "URL"))
    assert len(set(answers)) == 1, answers
    assert "egress policy" in answers[0]


def test_job_creation_refuses_internal_urls(keyed: ServerHandle) -> None:
    port = keyed.root_url.rsplit(":", 1)[1]
    tenant = keyed.client(create_key(keyed, "scanner-jobs"))
    file_id = upload_jsonl(tenant)
    method = {
        "type": "reinforcement",
        "reinforcement": {"grader": _lambda(f"http://127.0.0.1:{port}/v1/files")},
    }
    with pytest.raises(openai.BadRequestError) as info:
        tenant.fine_tuning.jobs.create(
            model="tiny-random-llama", training_file=file_id, method=method
        )
    assert info.value.body["param"] == "method.reinforcement.grader.lambda.function"  # type: ignore[index]
    assert tenant.fine_tuning.jobs.list().data == []  # nothing stored


def test_graders_run_never_reaches_an_internal_url(keyed: ServerHandle) -> None:
    """``graders/run`` validates first: a denied URL is a 400, with no call made."""
    with running_reward_server() as reward:
        tenant = keyed.client(create_key(keyed, "scanner-run"))
        with pytest.raises(openai.BadRequestError):
            tenant.post(
                "/fine_tuning/alpha/graders/run",
                body={"grader": _lambda(reward.url("/ok")), "model_sample": "4"},
                cast_to=object,
            )
        assert reward.calls["/ok"] == 0


def test_a_paused_job_quotes_no_more_than_a_clean_snippet(server: ServerHandle) -> None:
    """An allowed reward URL answering 403 with a long body: the job pauses (every sample's grade
    erred), and its error event quotes a short, printable prefix and never the secret further in
    (before: 200 raw characters)."""
    client = server.client()
    with running_reward_server() as reward:
        method = {
            "type": "reinforcement",
            "reinforcement": {"grader": _lambda(reward.url("/leak"))},
        }
        job = client.fine_tuning.jobs.create(
            model="tiny-random-llama",
            training_file=upload_jsonl(client),
            method=method,
            hyperparameters={"n_epochs": 1, "batch_size": 2},
        )
        paused = wait_for_status(client, job.id, {"paused", "failed", "succeeded"}, timeout_s=240)
    assert paused.status == "paused", (paused.error, server.log_tail())
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    [error] = [e for e in events if e.level == "error"]
    message = error.message
    assert "HTTP 403: denied" in message
    assert LEAKED_SECRET.decode() not in message
    assert LEAKED_SECRET.decode() not in json.dumps(error.data)
    assert "\x1b" not in message and "\r" not in message
