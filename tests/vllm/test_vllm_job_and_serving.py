"""A server on the vLLM engine: a GSM8K job with ``rollout_engine: "vllm"`` beside the same job
on openrft's engine, then its fine-tuned model served through vLLM.

Each job is the demo's configuration (SmolLM2-135M-Instruct, GSM8K, Lambda grader
``openrft/demo/gsm8k_reward.py``, LoRA, evaluation) cut down to 2 steps of 2 prompts × 2
samples of up to 16 tokens: two vLLM servers start (the job's, then the serving one that
every request here shares). Still marked slow: on 2026-12-03 (load 22-44 on 2 cores) the
module's fixture errored before its time was measured, so it is not yet shown to fit CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
from peft import PeftModel

from openrft.demo.dataset import to_row
from openrft.inference.engine import GenerationEngine, SamplingParams
from openrft.inference.registry import SMOLLM2, load_base_model
from openrft.inference.tokens import encode_chat
from tests.conftest import PRODUCT_STEP_METRICS, REPO_ROOT
from tests.integration.conftest import ServerHandle, wait_for_status

pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(3600)]

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


@pytest.fixture(scope="module")
def jobs(vllm_server: ServerHandle) -> dict[str, Any]:
    """The same GSM8K job on each engine, run to the end: engine → finished job."""
    client = vllm_server.client()
    reward = vllm_server.data_dir.parent / "gsm8k_reward.py"
    shutil.copyfile(REWARD_FILE, reward)
    files = (_gsm8k_file(client, "train", 4), _gsm8k_file(client, "test", 2))
    created = {engine: _create_job(client, engine, files, reward) for engine in ("vllm", "openrft")}
    done = {
        engine: wait_for_status(client, job_id, {"succeeded", "failed", "cancelled"}, 1800)
        for engine, job_id in created.items()
    }
    for job in done.values():
        assert job.status == "succeeded", (job.error, vllm_server.log_tail())
    return done


def test_vllm_job_runs_two_steps_with_the_metrics_of_an_openrft_job(
    vllm_server: ServerHandle, jobs: dict[str, Any]
) -> None:
    client = vllm_server.client()
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


def test_fine_tuned_model_served_on_vllm_answers_like_openrft_engine(
    vllm_server: ServerHandle, jobs: dict[str, Any], tmp_path: Path
) -> None:
    model_id = jobs["vllm"].fine_tuned_model
    out_dir = tmp_path / "adapter"
    args = [str(OPENRFT), "export", model_id, str(out_dir)]
    subprocess.run([*args, "--data-dir", str(vllm_server.data_dir)], check=True, timeout=300)
    model, tokenizer = load_base_model(SMOLLM2, cache_dir=vllm_server.data_dir / "models")
    engine = GenerationEngine(PeftModel.from_pretrained(model, str(out_dir)), tokenizer)
    prompt = encode_chat(tokenizer, MESSAGES)
    (ours,) = engine.generate([prompt], SamplingParams(max_new_tokens=24, temperature=0))[0]
    client = vllm_server.client().with_options(timeout=900)
    reply = client.chat.completions.create(
        model=model_id, messages=MESSAGES, temperature=0, max_completion_tokens=24
    )
    assert reply.choices[0].message.content == tokenizer.decode(
        ours.token_ids, skip_special_tokens=True
    )
    assert "vllm-base" in " ".join(p.name for p in (vllm_server.data_dir / "logs").iterdir())
    # Streamed: the same text, token by token, in the own engine's chunk shape.
    stream = client.chat.completions.create(
        model=model_id,
        messages=MESSAGES,
        temperature=0,
        max_completion_tokens=24,
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
    vllm_server: ServerHandle, jobs: dict[str, Any]
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
            model=jobs["vllm"].fine_tuned_model,
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
