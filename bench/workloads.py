"""The two GRPO workloads openrft and TRL are compared on (bench/grpo_step.py, bench/trl_step.py).

- ``learning`` (issue 19): the brevity task (bench/brevity_task.py), whose groups almost never
  tie, so every step runs the full backward; validated after every step by greedy decoding of
  the held-out topics, which gives the time to a target validation reward.
- ``reference`` (issue 7): GSM8K at temperature 1.0; most groups tie at reward 0, so openrft's
  step is mostly generation. No validation.

Both share the model and training settings of bench/reference_config.py (SmolLM2-135M-Instruct
fp32, LoRA r16/α32 on all linear layers, 8 prompts × 8 samples, beta 0, temperature 1.0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import brevity_task
from bench import reference_config as ref


@dataclass(frozen=True)
class Workload:
    """What differs between the workloads; rows are ``{"messages": [...], ...}``."""

    name: str
    max_new_tokens: int
    learning_rate: float
    default_steps: int
    train_rows: Callable[[int], list[dict[str, Any]]]  # steps -> rows, PROMPTS_PER_STEP a step
    valid_rows: Callable[[], list[dict[str, Any]]]  # [] = no validation
    reward: Callable[[str, dict[str, Any]], float]  # (completion text, row) -> reward

    def describe(self) -> dict[str, Any]:
        """The configuration as recorded in each side's JSON result."""
        return {
            **ref.describe(),
            "workload": self.name,
            "max_new_tokens": self.max_new_tokens,
            "learning_rate": self.learning_rate,
            "validation_prompts": len(self.valid_rows()),
        }


LEARNING = Workload(
    name="learning",
    max_new_tokens=48,
    learning_rate=1e-4,
    default_steps=10,
    train_rows=lambda steps: brevity_task.train_rows(steps, ref.PROMPTS_PER_STEP),
    valid_rows=brevity_task.valid_rows,
    reward=lambda text, _row: brevity_task.brevity_reward(text),
)
REFERENCE = Workload(
    name="reference",
    max_new_tokens=ref.MAX_NEW_TOKENS,
    learning_rate=ref.LEARNING_RATE,
    default_steps=ref.DEFAULT_STEPS,
    train_rows=ref.reference_rows,
    valid_rows=list,
    reward=lambda text, row: ref.reward(text, row["ground_truth"]),
)
WORKLOADS = {w.name: w for w in (LEARNING, REFERENCE)}
