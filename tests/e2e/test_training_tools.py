"""Multi-turn jobs with tools on tiny-random-llama, end to end: official SDK → server → worker.

One job runs python tools in the grader sandbox, one an MCP server on loopback (streamable
HTTP, the ``mcp`` SDK on both sides). A random model hardly ever writes a tool call, so these
show the job's plumbing (providers started, tool lists in every prompt, graders reading the
trajectory, tool metrics, checkpoints, the tuned model serving tools); the rollout loop's calls
are shown in tests/unit/training/test_tool_rollout.py and learning in test_tools_learning.py.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.integration.conftest import ServerHandle, server, wait_for_status
from tests.tool_servers import SECRETS, mcp_server

__all__ = ["server"]  # the session fixture, imported so pytest finds it here

pytestmark = pytest.mark.timeout(600)

TOOL_METRICS = {"tool_calls_per_rollout", "tool_error_rate", "turns_mean", "trajectory_tokens_mean"}
LOOKUP = '''
def lookup(city: str) -> str:
    """The secret code of a city."""
    return {"oslo": "NO-0301", "lima": "PE-1501", "kyiv": "UA-0101"}[city.lower()]
'''
# Reads the trajectory: a sample without ``messages`` would be a grader error.
TRAJECTORY_GRADER = {
    "type": "python",
    "name": "code",
    "source": (
        "def grade(sample, item):\n"
        "    assert sample['messages'][0]['role'] in ('system', 'user')\n"
        "    assert sample['messages'][-1]['role'] == 'assistant'\n"
        "    called = any(c['function']['name'] == 'lookup' for c in sample['output_tools'])\n"
        "    return float(item['code'] in sample['output_text']) + 0.1 * called\n"
    ),
}
HYPERPARAMETERS = {
    "batch_size": 2,
    "group_size": 2,
    "n_epochs": 1,
    "eval_interval": 1,
    "eval_samples": 1,
    "max_completion_tokens": 12,
    "max_turns": 3,
    "lora_rank": 4,
    "lora_alpha": 8,
}


def _upload(client: openai.OpenAI, rows: list[dict[str, Any]], name: str) -> str:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=(name, data), purpose="fine-tune").id


def _rows(cities: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "messages": [{"role": "user", "content": f"What is the secret code of {city}?"}],
            "code": SECRETS[city],
        }
        for city in cities
    ]


def _run(client: openai.OpenAI, tools: list[dict[str, Any]], grader: dict[str, Any]) -> Any:
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=_upload(client, _rows(["oslo", "lima", "kyiv", "oslo"]), "train.jsonl"),
        validation_file=_upload(client, _rows(["lima", "kyiv"]), "valid.jsonl"),
        seed=5,
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": grader, "tools": tools, "hyperparameters": HYPERPARAMETERS},
        },
    )
    return wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=400)


def _check_events(client: openai.OpenAI, job_id: str, functions: str) -> None:
    events = list(client.fine_tuning.jobs.list_events(job_id, limit=100))
    messages = [e.message for e in events]
    assert f"Tools ready: 1 provider(s); functions: {functions}." in messages
    metrics = [e.data for e in events if e.type == "metrics"]
    assert sorted(m["step"] for m in metrics) == [1, 2]
    for m in metrics:
        assert set(m) >= TOOL_METRICS
        assert m["turns_mean"] >= 1 and m["trajectory_tokens_mean"] > 0
        assert m["grader_error_rate"] == 0.0  # the grader read sample.messages every time


def test_python_tool_job_succeeds_and_its_model_serves_tools(server: ServerHandle) -> None:
    client = server.client().with_options(timeout=120)
    tools = [{"type": "python", "source": LOOKUP}]
    done = _run(client, tools, TRAJECTORY_GRADER)
    assert done.status == "succeeded", (done.error, server.log_tail())
    assert done.method.reinforcement.tools == [
        {"type": "python", "timeout_s": 30.0, "source": LOOKUP}
    ]
    _check_events(client, done.id, "lookup")

    # The tuned model and its checkpoints take the same tools in serving.
    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(done.id))
    for model in [done.fine_tuned_model, checkpoints[0].fine_tuned_model_checkpoint]:
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Code of Oslo?"}],
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string", "enum": ["Oslo"]}},
                            "required": ["city"],
                        },
                    },
                }
            ],
            tool_choice={"type": "function", "function": {"name": "lookup"}},
            max_completion_tokens=120,  # one byte-level token per character
        )
        (call,) = reply.choices[0].message.tool_calls
        assert (call.function.name, json.loads(call.function.arguments)) == (
            "lookup",
            {"city": "Oslo"},
        )


def test_mcp_tool_job_lists_the_servers_tools_and_succeeds(server: ServerHandle) -> None:
    client = server.client().with_options(timeout=120)
    grader = {
        "type": "string_check",
        "name": "code",
        "input": "{{sample.output_text}}",
        "reference": "{{item.code}}",
        "operation": "like",
    }
    with mcp_server() as (url, _):
        done = _run(client, [{"type": "mcp", "url": url}], grader)
    assert done.status == "succeeded", (done.error, server.log_tail())
    _check_events(client, done.id, "lookup, explode")


def test_bad_tool_providers_are_400_naming_the_field(server: ServerHandle) -> None:
    client = server.client()
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(
            model="tiny-random-llama",
            training_file=_upload(client, _rows(["oslo"]), "train.jsonl"),
            method={
                "type": "reinforcement",
                "reinforcement": {
                    "grader": TRAJECTORY_GRADER,
                    "tools": [{"type": "mcp", "url": "file:///etc/passwd"}],
                },
            },
        )
    assert info.value.body["param"] == "method.reinforcement.tools.0.url"  # type: ignore[index]
