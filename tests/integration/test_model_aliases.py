"""Unchanged OpenAI / Bedrock code that names their models runs on a local model through the
server's alias map (``--model-alias``): jobs, chat, responses, models and grader validation."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.integration.conftest import (
    FAKE_WORKER,
    OPENRFT_BIN,
    STRING_CHECK,
    ServerHandle,
    start_server,
    upload_jsonl,
)

LOCAL = "tiny-random-llama"
ALIASES = ("o4-mini-2025-04-16", "gpt-4.1", "openai.gpt-oss-20b", "qwen.qwen3-32b")
JUDGE = {
    "type": "score_model",
    "name": "judge",
    "model": "gpt-4.1",
    "input": [{"role": "user", "content": "Rate 0-1: {{sample.output_text}}"}],
    "range": [0, 1],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    flags: list[str] = []
    for alias in ALIASES:
        flags += ["--model-alias", f"{alias}={LOCAL}"]
    env = {"OPENRFT_WORKER_COMMAND": json.dumps([sys.executable, str(FAKE_WORKER)])}
    with start_server(
        tmp_path_factory.mktemp("aliases"), extra_args=tuple(flags), env=env
    ) as handle:
        yield handle


def _method(grader: dict[str, Any]) -> dict[str, Any]:
    return {"type": "reinforcement", "reinforcement": {"grader": grader}}


@pytest.mark.parametrize("alias", ALIASES)
def test_a_job_naming_another_platforms_model_trains_the_local_one(
    server: ServerHandle, alias: str
) -> None:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model=alias, training_file=upload_jsonl(client), method=_method(STRING_CHECK)
    )  # type: ignore[arg-type]
    assert job.model == alias
    assert (job.model_extra or {})["resolved_model"] == LOCAL
    again = client.fine_tuning.jobs.retrieve(job.id)
    assert again.model == alias and (again.model_extra or {})["resolved_model"] == LOCAL


def test_a_plain_job_echoes_one_name_twice(server: ServerHandle) -> None:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model=LOCAL, training_file=upload_jsonl(client), method=_method(STRING_CHECK)
    )  # type: ignore[arg-type]
    assert job.model == LOCAL and (job.model_extra or {})["resolved_model"] == LOCAL


def test_chat_responses_and_models_answer_under_the_alias(server: ServerHandle) -> None:
    client = server.client().with_options(timeout=600)  # the first chat loads the model
    ask = [{"role": "user", "content": "hello"}]
    local = client.chat.completions.create(
        model=LOCAL,
        messages=ask,
        temperature=0,
        max_completion_tokens=6,  # type: ignore[arg-type]
    )
    aliased = client.chat.completions.create(
        model="gpt-4.1",
        messages=ask,
        temperature=0,
        max_completion_tokens=6,  # type: ignore[arg-type]
    )
    assert aliased.model == "gpt-4.1"
    assert aliased.choices[0].message.content == local.choices[0].message.content
    response = client.responses.create(
        model="openai.gpt-oss-20b", input="hello", temperature=0, max_output_tokens=6
    )
    assert response.model == "openai.gpt-oss-20b" and response.output_text
    assert client.models.retrieve("qwen.qwen3-32b").id == "qwen.qwen3-32b"
    listed = {m.id for m in client.models.list()}
    assert set(ALIASES) <= listed and LOCAL in listed
    with pytest.raises(openai.PermissionDeniedError):
        client.models.delete("gpt-4.1")


def test_grader_models_are_checked_everywhere(server: ServerHandle) -> None:
    client = server.client()
    graders = client.fine_tuning.alpha.graders
    assert graders.validate(grader=JUDGE).grader is not None  # type: ignore[arg-type]
    unknown = {**JUDGE, "model": "gpt-nope"}
    with pytest.raises(openai.BadRequestError) as info:
        graders.validate(grader=unknown)  # type: ignore[arg-type]
    assert info.value.body["param"] == "grader.model"  # type: ignore[index]
    assert "'gpt-nope'" in info.value.body["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as info:
        graders.run(grader=unknown, model_sample="x")  # type: ignore[arg-type]
    assert info.value.body["param"] == "grader.model"  # type: ignore[index]
    multi = {"type": "multi", "graders": {"judge": unknown}, "calculate_output": "judge"}
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(
            model="gpt-4.1", training_file=upload_jsonl(client), method=_method(multi)
        )  # type: ignore[arg-type]
    assert info.value.body["param"] == "method.reinforcement.grader.graders.judge.model"  # type: ignore[index]
    assert "'gpt-nope'" in info.value.body["message"]  # type: ignore[index]


def test_an_unknown_model_is_still_refused(server: ServerHandle) -> None:
    client = server.client()
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(
            model="gpt-5", training_file=upload_jsonl(client), method=_method(STRING_CHECK)
        )  # type: ignore[arg-type]
    assert info.value.body["param"] == "model"  # type: ignore[index]


def test_a_bad_alias_flag_stops_the_server_before_it_binds() -> None:
    result = subprocess.run(
        [str(OPENRFT_BIN), "serve", "--model-alias", "gpt-4.1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "use NAME=MODEL" in result.stderr
