"""SmolLM2-135M-Instruct learns to use a tool it needs, through the API (slow: tens of minutes).

Task: "What is the secret code of <name>?" for made-up names. Only the job's python tool
``lookup`` knows the codes, so a right answer needs a call to it, with the right name, and the
code copied from its result. The reward is the right fact alone (the code in the final answer);
calling the tool is never rewarded by itself.

The base model never wrote a call on its own (0 of 136 samples with the tool list alone, a
system prompt or one worked example), so each row's conversation starts with two worked
examples (a question, a ``lookup`` call, its result, the answer). With them the base calls the
tool in 9 and answers right in 7 of its 48 held-out samples.

Measured on held-out names (no validation name is a training name) at the baseline and final
evaluations: the same prompts, the same seed, two samples each, so outcomes are paired by
(name, sample). "More often by more than noise explains" means the 95% interval of the paired
difference (Newcombe's, for paired proportions) lies above zero, for both the tool-call rate
and the right-answer rate.
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

import httpx
import pytest

from openrft.domain.stats import paired_difference_interval
from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]

# A step took ~10 min on the shared 2-core machine (load ~30): the whole run ~2.5 h there.
RUN_TIMEOUT_S = 4 * 3600
pytestmark = [pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT_S + 600)]

TRAIN_NAMES, VALID_NAMES = 48, 24
HYPERPARAMETERS = {
    "batch_size": 4,
    "group_size": 8,
    "n_epochs": 1,
    "max_steps": 12,
    "eval_interval": 12,  # baseline and final only: no checkpoint is chosen among several
    "eval_samples": 2,
    "early_stopping": None,
    "max_completion_tokens": 40,
    "max_turns": 2,
    "temperature": 1.0,
    "learning_rate": 5e-4,
    "lora_rank": 16,
    "lora_alpha": 32,
}


def secret_codes() -> dict[str, str]:
    """Made-up names (two or three syllables) → codes like ``QX-4817``; seeded."""
    rng = random.Random(17)
    syllables = ["var", "nol", "quil", "bras", "ten", "mor", "kel", "dru", "sab", "fen", "lor"]
    codes: dict[str, str] = {}
    while len(codes) < TRAIN_NAMES + VALID_NAMES:
        name = "".join(rng.sample(syllables, rng.choice([2, 3]))).capitalize()
        letters = "".join(rng.choices(string.ascii_uppercase, k=2))
        codes.setdefault(name, f"{letters}-{rng.randrange(1000, 10000)}")
    return codes


def lookup_source(codes: dict[str, str]) -> str:
    """The job's python tool: every top-level function of the source is a tool."""
    return (
        f"CODES = {json.dumps({k.lower(): v for k, v in codes.items()})}\n\n\n"
        "def lookup(name: str) -> str:\n"
        '    """The secret code of a person."""\n'
        "    return CODES.get(name.strip().lower(), f'No person named {name}.')\n"
    )


# The sub-graders: ``correct`` is the reward; ``called`` is only recorded on every sample.
GRADER = {
    "type": "multi",
    "name": "fact",
    "graders": {
        "correct": {
            "type": "python",
            "name": "correct",
            "source": (
                "def grade(sample, item):\n"
                "    return float(item['code'] in sample['output_text'])\n"
            ),
        },
        "called": {
            "type": "python",
            "name": "called",
            "source": (
                "def grade(sample, item):\n"
                "    names = [c['function']['name'] for c in sample['output_tools']]\n"
                "    return float('lookup' in names)\n"
            ),
        },
    },
    "calculate_output": "correct",
}


def worked_example(name: str, code: str, index: int) -> list[dict[str, Any]]:
    call = {"name": "lookup", "arguments": json.dumps({"name": name})}
    return [
        {"role": "user", "content": f"What is the secret code of {name}?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": f"call_{index}", "type": "function", "function": call}],
        },
        {"role": "tool", "tool_call_id": f"call_{index}", "content": code},
        {"role": "assistant", "content": f"The secret code of {name} is {code}."},
    ]


def row(name: str, code: str) -> dict[str, Any]:
    examples = [*worked_example("Alice", "AL-1234", 0), *worked_example("Bruno", "BR-5678", 1)]
    question = {"role": "user", "content": f"What is the secret code of {name}?"}
    return {"messages": [*examples, question], "code": code}


def upload(client: Any, rows: list[dict[str, Any]], name: str) -> str:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return str(client.files.create(file=(name, data), purpose="fine-tune").id)


def scores(server: ServerHandle, job_id: str, step: int) -> dict[tuple[int, int], dict]:
    """The validation samples of one evaluation by (item, sample): their sub-grader scores."""
    response = httpx.get(
        f"{server.base_url}/fine_tuning/jobs/{job_id}/samples",
        params={"step": step, "split": "valid", "limit": 1000},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return {(s["item"], s["sample"]): s["scores"] for s in response.json()["data"]}


def test_smollm2_learns_to_look_up_facts_it_cannot_know(server: ServerHandle) -> None:
    client = server.client().with_options(timeout=300)
    codes = list(secret_codes().items())
    train, valid = codes[:TRAIN_NAMES], codes[TRAIN_NAMES:]
    job = client.fine_tuning.jobs.create(
        model="SmolLM2-135M-Instruct",
        training_file=upload(client, [row(n, c) for n, c in train], "facts-train.jsonl"),
        validation_file=upload(client, [row(n, c) for n, c in valid], "facts-valid.jsonl"),
        seed=0,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": GRADER,
                "tools": [{"type": "python", "source": lookup_source(dict(codes))}],
                "hyperparameters": HYPERPARAMETERS,
            },
        },
    )
    done = wait_for_status(
        client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=RUN_TIMEOUT_S
    )
    assert done.status == "succeeded", (done.error, server.log_tail())

    before, after = scores(server, job.id, 0), scores(server, job.id, HYPERPARAMETERS["max_steps"])
    keys = sorted(before)
    assert keys == sorted(after) and len(keys) == VALID_NAMES * 2
    report = {}
    for metric in ("called", "correct"):
        base = [before[k][metric] == 1.0 for k in keys]
        tuned = [after[k][metric] == 1.0 for k in keys]
        interval = paired_difference_interval(tuned, base)
        report[metric] = (sum(base) / len(keys), sum(tuned) / len(keys), interval.as_dict())
    print(f"\nheld-out names x 2 samples = {len(keys)} paired outcomes: {report}")
    for metric, (base_rate, tuned_rate, interval) in report.items():
        assert tuned_rate > base_rate, report
        assert interval["ci95"][0] > 0, (metric, report)  # type: ignore[index]
