"""A server on the vLLM engine: a GSM8K job with ``rollout_engine: "vllm"`` beside the same job
on openrft's engine, then the base and the fine-tuned model served through vLLM.

Each job is the demo's job (SmolLM2-135M-Instruct, GSM8K, Lambda grader
``openrft/demo/gsm8k_reward.py``, LoRA, evaluation) cut down to 2 steps of 2 prompts × 2
samples of up to 16 tokens. The two jobs run at once, and the first chat request (the base
model) starts the serving vLLM server while they train: the machine's second core works while
each vLLM process imports and starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
from openai.types.chat import ChatCompletion
from peft import PeftModel

from openrft.demo.dataset import to_row
from openrft.inference.engine import GenerationEngine, SamplingParams
from openrft.inference.registry import SMOLLM2, load_base_model
from openrft.inference.tokens import encode_chat
from tests.conftest import PRODUCT_STEP_METRICS, REPO_ROOT
from tests.integration.conftest import ServerHandle, wait_for_status
from tests.unit.inference.conftest import MODEL_CACHE

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(3600)]

GSM8K_DIR = Path(os.environ.get("OPENRFT_GSM8K_DIR", REPO_ROOT.parent / "shared/datasets/gsm8k"))
REWARD_FILE = REPO_ROOT / "openrft" / "demo" / "gsm8k_reward.py"
OPENRFT = Path(sys.executable).parent / "openrft"
HYPERPARAMETERS = {
    "batch_size": 2,
    "group_size": 2,
    "max_completion_tokens": 16,
    "max_steps": 2,
    "eval_interval": 2,
    "eval_samples": 1,
    "learning_rate": 1e-4,
}
MESSAGES = [{"role": "user", "content": "Tom has 3 apples and buys 4 more. How many now?"}]
MAX_TOKENS = 24


@dataclass(frozen=True)
class Runs:
    """What the module's tests look at: engine → finished job, and the base model's reply."""

    jobs: dict[str, Any]
    base_reply: ChatCompletion


@pytest.fixture(scope="module")
def runs(vllm_server: ServerHandle) -> Runs:
    """The same GSM8K job on each engine, run to the end, and a greedy chat with the base model
    on vLLM asked while they train."""
    client = vllm_server.client()
    reward = vllm_server.data_dir.parent / "gsm8k_reward.py"
    shutil.copyfile(REWARD_FILE, reward)
    files = (_gsm8k_file(client, "train", 4), _gsm8k_file(client, "test", 2))
    created = {engine: _create_job(client, engine, files, reward) for engine in ("vllm", "openrft")}
    base_reply = _greedy_chat(vllm_server, SMOLLM2)
    done = {
        engine: wait_for_status(client, job_id, {"succeeded", "failed", "cancelled"}, 1800)
        for engine, job_id in created.items()
    }
    for job in done.values():
        assert job.status == "succeeded", (job.error, vllm_server.log_tail())
    return Runs(done, base_reply)


def test_vllm_job_runs_two_steps_with_the_metrics_of_an_openrft_job(
    vllm_server: ServerHandle, runs: Runs
) -> None:
    client = vllm_server.client()
    jobs = runs.jobs
    events = {
        e: list(client.fine_tuning.jobs.list_events(j.id, limit=100)) for e, j in jobs.items()
    }
    metrics = {e: [x.data for x in events[e] if x.type == "metrics"] for e in jobs}
    for engine in jobs:
        assert [m["step"] for m in sorted(metrics[engine], key=lambda m: m["step"])] == [1, 2]
        assert all(set(m) >= PRODUCT_STEP_METRICS for m in metrics[engine])
    assert [set(m) for m in metrics["vllm"]] == [set(m) for m in metrics["openrft"]]
    # vLLM's sampling log-probs are what the trainer recomputes from the same weights.
    assert all(m["sampling/logp_gap_mean"] < 0.01 for m in metrics["vllm"])
    assert all(m["response_length_mean"] > 0 for m in metrics["vllm"])
    messages = [x.message for x in events["vllm"]]
    assert any(m.startswith("Rollouts and evaluations run on vLLM") for m in messages)
    assert not any("vLLM" in x.message for x in events["openrft"])
    # Baseline, after step 1, after step 2: the adapter was loaded three times, nothing else.
    (syncs,) = [x.data for x in events["vllm"] if x.message.startswith("vLLM adapter syncs")]
    assert syncs["vllm_sync"] == "adapter" and syncs["vllm_syncs"] == 3


def test_base_model_served_on_vllm_answers_like_openrft_engine(
    vllm_server: ServerHandle, runs: Runs, smollm2: tuple[Any, Any]
) -> None:
    model, tokenizer = smollm2
    assert runs.base_reply.choices[0].message.content == _openrft_greedy(model, tokenizer)
    assert (vllm_server.data_dir / "logs" / "vllm-base-SmolLM2-135M-Instruct.log").is_file()


def test_fine_tuned_model_served_on_vllm_answers_like_openrft_engine(
    vllm_server: ServerHandle, runs: Runs, tmp_path: Path
) -> None:
    model_id = runs.jobs["vllm"].fine_tuned_model
    out_dir = tmp_path / "adapter"
    args = [str(OPENRFT), "export", model_id, str(out_dir)]
    env = {**os.environ, "OPENRFT_MODEL_CACHE_DIR": str(MODEL_CACHE)}  # as the server's
    subprocess.run(
        [*args, "--data-dir", str(vllm_server.data_dir)], check=True, timeout=300, env=env
    )
    model, tokenizer = load_base_model(SMOLLM2, cache_dir=MODEL_CACHE)
    reply = _greedy_chat(vllm_server, model_id)
    tuned = PeftModel.from_pretrained(model, str(out_dir))
    assert reply.choices[0].message.content == _openrft_greedy(tuned, tokenizer)
    # Streamed: the same text, token by token, in the own engine's chunk shape.
    stream = vllm_server.client().chat.completions.create(
        model=model_id,
        messages=MESSAGES,
        temperature=0,
        max_completion_tokens=MAX_TOKENS,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert "".join(deltas) == reply.choices[0].message.content and len(deltas) > 2
    assert chunks[0].choices[0].delta.role == "assistant"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    assert finish == reply.choices[0].finish_reason
    assert chunks[-1].usage is not None and reply.usage is not None
    assert chunks[-1].usage.completion_tokens == reply.usage.completion_tokens


def test_response_format_json_schema_on_vllm_is_valid_json(
    vllm_server: ServerHandle, runs: Runs
) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}, "unit": {"type": "string", "maxLength": 8}},
        "required": ["answer", "unit"],
        "additionalProperties": False,
    }
    reply = (
        vllm_server.client()
        .with_options(timeout=900)
        .chat.completions.create(
            model=runs.jobs["vllm"].fine_tuned_model,
            messages=MESSAGES,
            temperature=0,
            max_completion_tokens=60,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            },
        )
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "stop"
    jsonschema.validate(json.loads(choice.message.content or ""), schema)


def _greedy_chat(server: ServerHandle, model: str) -> ChatCompletion:
    """A greedy chat completion; the first request to a base model starts its vLLM server."""
    client = server.client().with_options(timeout=1800)
    return client.chat.completions.create(
        model=model, messages=MESSAGES, temperature=0, max_completion_tokens=MAX_TOKENS
    )


def _openrft_greedy(model: Any, tokenizer: Any) -> str:
    """The greedy reply of ``model`` on openrft's engine."""
    engine = GenerationEngine(model, tokenizer)
    params = SamplingParams(max_new_tokens=MAX_TOKENS, temperature=0)
    (ours,) = engine.generate([encode_chat(tokenizer, MESSAGES)], params)[0]
    return str(tokenizer.decode(ours.token_ids, skip_special_tokens=True))


def _gsm8k_file(client: openai.OpenAI, split: str, n: int) -> str:
    path = GSM8K_DIR / f"{split}.jsonl"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"GSM8K not found at {path} and CI is set")
        pytest.skip(f"GSM8K not found at {path} (set OPENRFT_GSM8K_DIR)")
    with path.open() as handle:
        rows = [to_row(json.loads(next(handle))) for _ in range(n)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=(f"gsm8k-{split}.jsonl", data), purpose="fine-tune").id


def _create_job(client: openai.OpenAI, engine: str, files: tuple[str, str], reward: Path) -> str:
    grader = {"type": "lambda", "lambda": {"function": f"{reward}:lambda_handler"}}
    hyperparameters = {**HYPERPARAMETERS, "rollout_engine": engine}
    job = client.fine_tuning.jobs.create(
        model=SMOLLM2,
        training_file=files[0],
        validation_file=files[1],
        seed=0,
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": grader, "hyperparameters": hyperparameters},
        },
    )
    return job.id
