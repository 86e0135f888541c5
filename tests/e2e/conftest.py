"""A keyed server with a finished tiny-random-llama job whose rewards are known.

The grader is deterministic: a ``multi`` grader of two python sub-graders on the completion's
character count, so a test can recompute every reward from the stored completion. A second
project owns a job of its own (tenancy checks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import openai
import pytest

from tests.integration.conftest import ServerHandle, start_server, wait_for_status
from tests.integration.test_auth import create_key

OWNER_KEY = "sk-e2e-owner"
# It prints (what the job keeps as grader logs, shown on the dashboard) and returns the reward.
PARITY = (
    "def grade(sample, item):\n"
    "    print('parity of', len(sample['output_text']), 'characters')\n"
    "    return float(len(sample['output_text']) % 2 == 0)\n"
)
SHORT = "def grade(sample, item):\n    return max(0.0, 1.0 - len(sample['output_text']) / 40)\n"
KNOWN_GRADER = {
    "type": "multi",
    "name": "known",
    "graders": {
        "parity": {"type": "python", "name": "parity", "source": PARITY},
        "short": {"type": "python", "name": "short", "source": SHORT},
    },
    "calculate_output": "0.5 * parity + 0.5 * short",
}
HYPERPARAMETERS = {
    "batch_size": 2,
    "group_size": 4,
    "n_epochs": 1,
    "eval_interval": 1,
    "eval_samples": 2,
    "max_completion_tokens": 8,
    "lora_rank": 4,
    "lora_alpha": 8,
    "learning_rate": 1e-2,
}


def known_reward(text: str) -> float:
    """What ``KNOWN_GRADER`` gives ``text``, computed here independently of the server."""
    return 0.5 * float(len(text) % 2 == 0) + 0.5 * max(0.0, 1.0 - len(text) / 40)


@dataclass
class FinishedJob:
    server: ServerHandle
    job_id: str
    owner: openai.OpenAI
    other_key: str
    other_job_id: str


def upload(client: openai.OpenAI, rows: list[dict], name: str) -> str:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=(name, data), purpose="fine-tune").id


def rows(n: int, start: int = 0) -> list[dict]:
    return [
        {"messages": [{"role": "user", "content": f"Count to {i}"}], "answer": str(i)}
        for i in range(start, start + n)
    ]


@pytest.fixture(scope="session")
def finished_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FinishedJob]:
    data_dir = tmp_path_factory.mktemp("openrft-e2e-finished")
    with start_server(data_dir, api_key=OWNER_KEY) as server:
        owner = server.client()
        job = owner.fine_tuning.jobs.create(
            model="tiny-random-llama",
            training_file=upload(owner, rows(4), "train.jsonl"),
            validation_file=upload(owner, rows(4, 100), "valid.jsonl"),
            seed=5,
            suffix="dash",
            method={
                "type": "reinforcement",
                "reinforcement": {"grader": KNOWN_GRADER, "hyperparameters": HYPERPARAMETERS},
            },
        )
        done = wait_for_status(owner, job.id, {"succeeded", "failed", "cancelled"}, 300)
        assert done.status == "succeeded", (done.error, server.log_tail())
        other_key = create_key(server, "team-other")
        other = server.client(other_key)
        other_job = other.fine_tuning.jobs.create(
            model="tiny-random-llama",
            training_file=upload(other, rows(2), "theirs.jsonl"),
            method={"type": "reinforcement", "reinforcement": {"grader": KNOWN_GRADER}},
        )
        other.fine_tuning.jobs.cancel(other_job.id)
        yield FinishedJob(server, job.id, owner, other_key, other_job.id)
