"""``POST /v1/fine_tuning/alpha/preflight`` and ``openrft preflight`` on a live keyed server:
tiny-random-llama sampled and graded for real (sandboxed Lambda file, string check)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from openrft.demo import gsm8k_reward
from tests.integration.conftest import OPENRFT_BIN, ServerHandle, start_server

KEY = "sk-preflight-test"
SUBSTRING = {
    "type": "string_check",
    "name": "contains",
    "input": "{{sample.output_text}}",
    "reference": "{{item.ground_truth}}",
    "operation": "like",
}
HYPERPARAMETERS = {"batch_size": 2, "group_size": 4, "max_completion_tokens": 8}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("preflight-api"), api_key=KEY) as handle:
        yield handle


def gsm8k_like_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "messages": [{"role": "user", "content": f"What is {i} + {i}? End with #### N."}],
            "reference_answer": f"{i} + {i} = {2 * i}\n#### {2 * i}",
            "ground_truth": str(2 * i),
        }
        for i in range(n)
    ]


def upload(client: openai.OpenAI, rows: list[dict[str, Any]]) -> str:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=("train.jsonl", data), purpose="fine-tune").id


def preflight(client: openai.OpenAI, **body: Any) -> dict[str, Any]:
    slow = client.with_options(timeout=600)  # the model loads and samples
    report: dict[str, Any] = slow.post("/fine_tuning/alpha/preflight", body=body, cast_to=dict)
    return report


def method(grader: dict[str, Any]) -> dict[str, Any]:
    section = {"grader": grader, "hyperparameters": HYPERPARAMETERS}
    return {"type": "reinforcement", "reinforcement": section}


def test_a_substring_grader_flags_the_reference_leak_and_the_numbers_add_up(
    server: ServerHandle,
) -> None:
    client = server.client()
    rows = gsm8k_like_rows(12)
    report = preflight(
        client,
        model="tiny-random-llama",
        training_file=upload(client, rows),
        method=method(SUBSTRING),
        max_prompts=6,
        seed=1,
    )
    assert report["object"] == "fine_tuning.preflight" and report["group_size"] == 4
    probes = {p["kind"]: p for p in report["probes"]}
    assert probes["reference_leak"]["flagged"], probes
    assert any(f["code"] == "exploit_reference_leak" for f in report["findings"])
    # Every number recomputed here from the returned samples.
    learnable = 0
    for prompt in report["prompts"]:
        truth = rows[prompt["item"]]["ground_truth"]
        rewards = [s["reward"] for s in prompt["samples"]]
        assert rewards == [float(truth in s["completion"]) for s in prompt["samples"]]
        assert all(s["completion_tokens"] <= 8 for s in prompt["samples"])
        learnable += len(set(rewards)) > 1
    assert len(report["prompts"]) == 6
    assert report["groups"]["learnable_fraction"] == pytest.approx(learnable / 6)
    # No validation file: the job would hold out 10% (2 rows), so 10 rows remain, 5 steps.
    assert report["forecast"]["steps"] == 5
    assert report["report_text"].startswith("Preflight verdict: ")


def test_the_demos_one_answer_lambda_reward_flags_no_probe(
    server: ServerHandle, tmp_path: Path
) -> None:
    client = server.client()
    handler = client.files.create(
        file=("demo_reward.py", Path(gsm8k_reward.__file__).read_bytes()), purpose="grader"
    )
    grader = {"type": "lambda", "lambda": {"function": f"{handler.id}:lambda_handler"}}
    report = preflight(
        client,
        model="tiny-random-llama",
        training_file=upload(client, gsm8k_like_rows(8)),
        method=method(grader),
        max_prompts=4,
    )
    flagged = [p["kind"] for p in report["probes"] if p["flagged"]]
    assert flagged == [], report["probes"]
    assert report["grader"]["error_rate"] == 0.0
    assert report["grader"]["determinism"]["deterministic"] is True


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"training_file": "file-missing"}, "training_file"),
        ({"model": "no-such-model"}, "model"),
        ({"max_prompts": 0}, "max_prompts"),
        ({"method": {"type": "reinforcement", "reinforcement": {}}}, "method.reinforcement.grader"),
    ],
)
def test_bad_requests_are_400s_naming_the_field(
    server: ServerHandle, change: dict[str, Any], param: str
) -> None:
    client = server.client()
    body = {
        "model": "tiny-random-llama",
        "training_file": upload(client, gsm8k_like_rows(2)),
        "method": method(SUBSTRING),
        **change,
    }
    with pytest.raises(openai.BadRequestError) as caught:
        preflight(client, **body)
    assert caught.value.param is not None and param in caught.value.param, caught.value.body


def test_a_supervised_job_has_no_grader_to_preflight(server: ServerHandle) -> None:
    client = server.client()
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    with pytest.raises(openai.BadRequestError) as caught:
        preflight(
            client, model="tiny-random-llama", training_file=upload(client, [{"messages": chat}])
        )
    assert caught.value.param == "method.type"


def test_tool_rollouts_are_refused_with_a_clear_message(server: ServerHandle) -> None:
    client = server.client()
    section = method(SUBSTRING)
    section["reinforcement"]["tools"] = [
        {"type": "python", "source": "def add(a: int, b: int) -> int:\n    return a + b\n"}
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        preflight(
            client,
            model="tiny-random-llama",
            training_file=upload(client, gsm8k_like_rows(2)),
            method=section,
        )
    assert "tool rollouts" in str(caught.value.message)


def test_the_cli_uploads_local_files_and_prints_the_report(
    server: ServerHandle, tmp_path: Path
) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in gsm8k_like_rows(4)) + "\n")
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(SUBSTRING))
    command = [str(OPENRFT_BIN), "preflight", "--model", "tiny-random-llama"]
    command += ["--training-file", str(train), "--grader", str(grader), "--max-prompts", "2"]
    command += ["--hyperparameters", json.dumps(HYPERPARAMETERS), "--base-url", server.base_url]
    command += ["--api-key", KEY]
    text = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert text.returncode in (0, 1), text.stderr
    assert text.stdout.startswith("Preflight verdict: ")
    assert "reference_leak" in text.stdout and "Forecast:" in text.stdout
    as_json = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=600)
    report = json.loads(as_json.stdout)
    assert as_json.returncode == (1 if report["verdict"] == "block" else 0)
    assert len(report["prompts"]) == 2


def test_a_wrong_key_is_refused(server: ServerHandle) -> None:
    body = {"model": "tiny-random-llama", "training_file": "file-x", "method": method(SUBSTRING)}
    with pytest.raises(openai.AuthenticationError):
        preflight(server.client(api_key="sk-wrong"), **body)
