"""GRPO measurably improves tiny-random-llama on a verifiable reward, through the API.

Task: the reward is the fraction of characters of the completion that are ASCII digits
(a ``python`` grader, run in the sandbox). The random model emits bytes roughly uniformly, so
it starts poor: about 2-4% digits. A seeded run (LoRA r8, lr 3e-2, 4 prompts x 8 samples per
step) reaches > 0.9 within about 10 steps (seen: 0.025 -> 1.0 by step 8).

Why this is not luck: the validation mean is over 8 items x 4 samples = 32 completions. Its
standard error at baseline is std / sqrt(32), with the per-completion std read from the
baseline event (about 0.05, so SE ~0.01). The test demands a rise of at least 0.4 *and* at
least 10 standard errors; sampling noise alone exceeds 10 SE with probability < 1e-20.
"""

from __future__ import annotations

import json
import math

from tests.integration.conftest import ServerHandle, server, wait_for_status

__all__ = ["server"]

DIGITS_SOURCE = """
def grade(sample, item):
    text = sample["output_text"]
    return sum(ch.isdigit() for ch in text) / max(len(text), 1)
"""


def _upload(client, n: int, name: str) -> str:
    rows = [{"messages": [{"role": "user", "content": f"Write anything {i}"}]} for i in range(n)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return client.files.create(file=(name, data), purpose="fine-tune").id


def test_seeded_run_raises_the_reward_far_above_baseline(server: ServerHandle) -> None:
    client = server.client()
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=_upload(client, 48, "digits-train.jsonl"),
        validation_file=_upload(client, 8, "digits-valid.jsonl"),
        seed=1,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": {"type": "python", "name": "digits", "source": DIGITS_SOURCE},
                "hyperparameters": {
                    "batch_size": 4,
                    "group_size": 8,
                    "max_completion_tokens": 8,
                    "lora_rank": 8,
                    "lora_alpha": 16,
                    "learning_rate": 3e-2,
                    "max_steps": 12,
                    "eval_interval": 4,
                    "eval_samples": 4,
                    "early_stopping": {"patience": 10, "min_delta": 0.0, "target_reward": 0.9},
                },
            },
        },
    )
    done = wait_for_status(client, job.id, {"succeeded", "failed", "cancelled"}, timeout_s=240)
    assert done.status == "succeeded", (done.error, server.log_tail())

    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    baseline = next(e.data for e in events if (e.data or {}).get("phase") == "baseline")
    evaluated = sorted(
        (e.data for e in events if e.type == "metrics" and "valid_reward_mean" in e.data),
        key=lambda d: d["step"],
    )
    final = evaluated[-1]["valid_reward_mean"]
    standard_error = baseline["valid_reward_std"] / math.sqrt(baseline["valid_samples"])
    gain = final - baseline["valid_reward_mean"]
    assert baseline["valid_reward_mean"] < 0.1  # the model starts poor
    assert gain >= 0.4, (baseline, evaluated)
    assert gain >= 10 * standard_error, (gain, standard_error)

    # The tuned model now answers differently from its base, in the direction it was rewarded.
    prompt = [{"role": "user", "content": "Write anything 99"}]

    def greedy(model: str) -> str:
        reply = client.with_options(timeout=180).chat.completions.create(
            model=model, messages=prompt, temperature=0.0, max_tokens=8
        )
        return reply.choices[0].message.content or ""

    base_text, tuned_text = greedy("tiny-random-llama"), greedy(done.fine_tuned_model)
    assert tuned_text != base_text
    digits = [sum(ch.isdigit() for ch in t) / max(len(t), 1) for t in (base_text, tuned_text)]
    assert digits[1] > digits[0], (base_text, tuned_text)
