"""A cookbook ``score_model`` grader on SmolLM2 through the alias ``gpt-4.1`` grades 20 samples
with no parse failure, on ``graders/run`` and inside a job; in a job, a Bedrock handler calls a
judge through the narrow channel (and prints into the job's grader logs). Real worker,
tiny-random-llama policy. Slow: about 60 judge calls on a CPU.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.integration.conftest import ServerHandle, start_server, wait_for_status
from tests.integration.test_migration_shapes import JUDGE_ALIAS, SCORE_MODEL

pytestmark = pytest.mark.slow
JUDGE_MODEL = "SmolLM2-135M-Instruct"
POLICY = "tiny-random-llama"
# 5 rows x group 2 for one training step + 5 baseline + 5 final validation samples = 20.
HYPERPARAMETERS = {
    "batch_size": 5,
    "group_size": 2,
    "max_steps": 1,
    "n_epochs": 1,
    "eval_samples": 1,
    "max_completion_tokens": 12,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    flags = ("--model-alias", f"{JUDGE_ALIAS}={JUDGE_MODEL}")
    with start_server(tmp_path_factory.mktemp("migration-jobs"), extra_args=flags) as handle:
        yield handle


def upload_rows(client: openai.OpenAI, name: str) -> str:
    rows = [
        {
            "messages": [{"role": "user", "content": f"What is {i} + {i}?"}],
            "reference_answer": f"{i} + {i} = {2 * i}\n#### {2 * i}",
        }
        for i in range(5)
    ]
    data = "\n".join(json.dumps(row) for row in rows).encode()
    return client.files.create(file=(name, data), purpose="fine-tune").id


def run_job(server: ServerHandle, grader: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    client = server.client().with_options(timeout=120)
    job = client.fine_tuning.jobs.create(
        model=POLICY,
        training_file=upload_rows(client, "train.jsonl"),
        validation_file=upload_rows(client, "valid.jsonl"),
        method={
            "type": "reinforcement",  # type: ignore[arg-type]
            "reinforcement": {"grader": grader, "hyperparameters": HYPERPARAMETERS},
        },
    )
    done = wait_for_status(client, job.id, {"succeeded", "failed", "paused"}, timeout_s=1500)
    samples = httpx.get(
        f"{server.base_url}/fine_tuning/jobs/{job.id}/samples", params={"limit": 100}, timeout=30
    ).json()["data"]
    return done, samples


def test_a_score_model_judge_parses_twenty_samples_on_run(server: ServerHandle) -> None:
    client = server.client().with_options(timeout=600)
    for i in range(20):
        answer = f"{i} + {i} = {2 * i + i % 3}"
        item = {
            "messages": [{"role": "user", "content": f"What is {i} + {i}?"}],
            "reference_answer": str(2 * i),
        }
        response = client.fine_tuning.alpha.graders.run(
            grader=SCORE_MODEL,
            model_sample=answer,
            item=item,  # type: ignore[arg-type]
        )
        errors = response.metadata.errors.model_dump()
        assert not [k for k, v in errors.items() if v is True], (i, errors)
        assert 0.0 <= response.reward <= 1.0


def test_a_score_model_judge_grades_twenty_samples_in_a_job(server: ServerHandle) -> None:
    job, samples = run_job(server, SCORE_MODEL)
    assert job.status == "succeeded", job.error
    assert len(samples) == 20
    failed = [(s["split"], s["step"], s["errors"], s["completion"]) for s in samples if s["errors"]]
    assert failed == []
    assert all(0.0 <= s["reward"] <= 1.0 for s in samples)
    client = server.client()
    metrics = [
        e.data
        for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data
        if e.type == "metrics"
    ]
    assert metrics and all(m["grader_error_rate"] == 0.0 for m in metrics)
    assert "critic_advantages_mean" in metrics[0]


def test_a_handler_judges_through_the_channel_in_a_job(server: ServerHandle) -> None:
    source = textwrap.dedent(
        f"""
        from openai import OpenAI

        def lambda_handler(event, context):
            out = []
            for trajectory in event:
                reply = OpenAI().chat.completions.create(
                    model="{JUDGE_ALIAS}", max_tokens=4,
                    messages=[{{"role": "user", "content": trajectory["messages"][-1]["content"]}}])
                print(trajectory["id"], "judged")
                score = 1.0 if reply.choices[0].message.content else 0.0
                out.append({{"id": trajectory["id"], "aggregate_reward_score": score}})
            return out
        """
    )
    client = server.client()
    handler = client.files.create(file=("judge.py", source.encode()), purpose="grader")
    grader = {"type": "lambda", "lambda": {"function": f"{handler.id}:lambda_handler"}}
    job, samples = run_job(server, grader)
    assert job.status == "succeeded", job.error
    assert len(samples) == 20 and all(s["reward"] == 1.0 for s in samples)
    logs_file = next(
        f for f in job.result_files if client.files.retrieve(f).filename == "grader_logs.jsonl"
    )
    lines = [json.loads(line) for line in client.files.content(logs_file).text.splitlines()]
    assert sum(line["logs"].count("judged") for line in lines) == 20
