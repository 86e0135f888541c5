"""/v1/fine_tuning/alpha/graders/{run,validate} on a live server, through the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from openrft.graders import ERROR_KEYS
from tests.integration.conftest import ServerHandle, start_server
from tests.unit.graders.lambda_server import running_reward_server

KEY = "sk-graders-test"
CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "eq",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("graders-api"), api_key=KEY) as handle:
        yield handle


def _run(server: ServerHandle, grader: dict, sample: str, item: dict | None = None) -> dict:
    client = server.client()
    raw = client.fine_tuning.alpha.graders.with_raw_response.run(
        grader=grader,  # type: ignore[arg-type]
        model_sample=sample,
        item=item,
    )
    body: dict[str, Any] = raw.http_response.json()
    return body


def test_run_string_check_full_response(server: ServerHandle) -> None:
    body = _run(server, CHECK, "42", {"reference_answer": "42"})
    assert body["reward"] == 1.0
    assert list(body["metadata"]["errors"]) == list(ERROR_KEYS)
    assert not any(body["metadata"]["errors"].values())
    assert body["metadata"]["name"] == "exact" and body["metadata"]["type"] == "string_check"
    for key in ("execution_time", "scores", "token_usage", "sampled_model_name"):
        assert key in body["metadata"]
    assert body["sub_rewards"] == {} and body["model_grader_token_usage_per_model"] == {}
    response = server.client().fine_tuning.alpha.graders.run(
        grader=CHECK,  # type: ignore[arg-type]
        model_sample="41",
        item={"reference_answer": "42"},
    )
    assert response.reward == 0.0


def test_run_missing_variable_flags_error(server: ServerHandle) -> None:
    body = _run(server, CHECK, "42", {})
    assert body["reward"] == 0.0
    assert body["metadata"]["errors"]["invalid_variable_error"] is True


def test_run_multi_with_named_graders(server: ServerHandle) -> None:
    similarity = {
        "type": "text_similarity",
        "name": "sim",
        "input": "{{sample.output_json.city}}",
        "reference": "{{item.city}}",
        "evaluation_metric": "fuzzy_match",
    }
    city = {**CHECK, "input": "{{sample.output_json.city}}", "reference": "{{item.city}}"}
    multi = {
        "type": "multi",
        "name": "m",
        "graders": {"exact": city, "sim": similarity},
        "calculate_output": "0.5 * exact + 0.5 * sim",
    }
    body = _run(server, multi, '{"city": "Paris"}', {"city": "Paris"})
    assert body["reward"] == 1.0
    assert body["sub_rewards"] == {"exact": 1.0, "sim": 1.0}


def test_run_python_grader_in_sandbox(server: ServerHandle) -> None:
    source = "def grade(sample, item):\n    return len(sample['output_text']) / item['n']\n"
    grader = {"type": "python", "name": "py", "source": source}
    assert _run(server, grader, "abcd", {"n": 8})["reward"] == 0.5
    failing = _run(server, grader, "abcd", {"n": 0})
    assert failing["reward"] == 0.0
    errors = failing["metadata"]["errors"]
    assert errors["python_grader_runtime_error"] is True
    assert "ZeroDivisionError" in errors["python_grader_runtime_error_details"]


def test_run_http_lambda(server: ServerHandle) -> None:
    with running_reward_server() as reward:
        grader = {"type": "lambda", "lambda": {"function": reward.url("/ok")}}
        body = _run(
            server,
            grader,
            "4",
            {"messages": [{"role": "user", "content": "2+2"}], "reference_answer": "4"},
        )
        [event] = reward.events
    assert body["reward"] == 1.0
    assert body["metadata"]["scores"] == {"accuracy": 1.0, "length": 1.0}
    assert event[0]["messages"][-1] == {"role": "assistant", "content": "4"}


def test_validate_echoes_or_names_the_field(server: ServerHandle, tmp_path: Path) -> None:
    client = server.client()
    echoed = client.fine_tuning.alpha.graders.with_raw_response.validate(grader=CHECK)  # type: ignore[arg-type]
    assert echoed.http_response.json() == {"grader": CHECK}
    bad = {"type": "multi", "graders": {"a": CHECK}, "calculate_output": "a + b"}
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.alpha.graders.validate(grader=bad)  # type: ignore[arg-type]
    assert info.value.body["param"] == "grader.calculate_output"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.alpha.graders.validate(grader={"type": "label_model"})  # type: ignore[arg-type]
    assert info.value.body["param"] == "grader.type"  # type: ignore[index]


def test_graders_need_the_key(server: ServerHandle) -> None:
    with pytest.raises(openai.AuthenticationError):
        server.client(api_key="wrong").fine_tuning.alpha.graders.validate(grader=CHECK)  # type: ignore[arg-type]


def test_hostile_python_grader_leaves_server_healthy(server: ServerHandle) -> None:
    source = (
        "import os, signal\n"
        "def grade(sample, item):\n"
        "    for pid in (os.getppid(), item['server_pid']):\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    return 1.0\n"
    )
    grader = {"type": "python", "name": "hostile", "source": source}
    body = _run(server, grader, "x", {"server_pid": server.process.pid})
    assert body["reward"] == 0.0
    assert body["metadata"]["errors"]["python_grader_runtime_error"] is True
    assert httpx.get(f"{server.root_url}/health", timeout=5).json() == {"status": "ok"}
    assert server.process.poll() is None


def test_run_file_lambda_in_sandbox(server: ServerHandle, tmp_path: Path) -> None:
    handler = tmp_path / "reward.py"
    handler.write_text(
        "def lambda_handler(event, context):\n"
        "    return [{'id': t['id'], 'aggregate_reward_score': 0.25,\n"
        "             'metrics_list': [{'name': 'n', 'value': len(event), 'type': 'Metric'}]}\n"
        "            for t in event]\n"
    )
    grader = {"type": "lambda", "lambda": {"function": f"{handler}:lambda_handler"}}
    body = _run(server, grader, "x", {"reference_answer": "y"})
    assert body["reward"] == 0.25
    assert body["metadata"]["scores"] == {"n": 1.0}
