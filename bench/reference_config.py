"""The reference GRPO step (issue 7), shared by bench/grpo_step.py and bench/trl_step.py.

Both sides read their model, prompts, sizes, seed and reward from here so that the step times
they report are for identical work: SmolLM2-135M-Instruct in fp32 on CPU, LoRA r16/α32 on all
linear layers, 8 GSM8K prompts × 8 samples per step, 64 new tokens, beta 0, lr 1e-5.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from openrft.demo.dataset import load_gsm8k, sample, to_row
from openrft.demo.gsm8k_reward import reward_from_scores, score_completion
from openrft.inference.registry import SMOLLM2, resolve_model_dir
from openrft.settings import Settings

MODEL = SMOLLM2
PROMPTS_PER_STEP = 8
GROUP_SIZE = 8
MAX_NEW_TOKENS = 64
LORA_RANK = 16
LORA_ALPHA = 32
LORA_TARGET_MODULES = "all-linear"
BETA = 0.0
LEARNING_RATE = 1e-5
TEMPERATURE = 1.0
DTYPE = "float32"
SEED = 0
DEFAULT_STEPS = 2  # a TRL step costs ~200 s on 2 cores; raise with --steps for reward curves

_SHARED_GSM8K = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "gsm8k"


def gsm8k_dir() -> Path | None:
    """``OPENRFT_GSM8K_DIR``, else ``../shared/datasets/gsm8k`` if present, else None (the hub)."""
    configured = os.environ.get("OPENRFT_GSM8K_DIR")
    if configured:
        return Path(configured)
    return _SHARED_GSM8K if _SHARED_GSM8K.is_dir() else None


def reference_rows(steps: int) -> list[dict[str, Any]]:
    """``steps × PROMPTS_PER_STEP`` Bedrock-shaped GSM8K train rows; step i uses rows [8i, 8i+8).

    Each row: ``{"messages": [{"role": "user", "content": ...}], "reference_answer": str,
    "ground_truth": str}``. Both sides must consume them in this order (no shuffling).
    """
    examples = load_gsm8k("train", gsm8k_dir())
    return [to_row(example) for example in sample(examples, steps * PROMPTS_PER_STEP, SEED)]


def reward(completion: str, ground_truth: str) -> float:
    """The demo's GSM8K reward (1 correct, 0.1 formatted, else 0) for one completion."""
    return reward_from_scores(*score_completion(completion, ground_truth))


def model_dir() -> str:
    """The local safetensors dir of SmolLM2-135M-Instruct (converted once from the GGUF)."""
    return resolve_model_dir(MODEL, cache_dir=Settings().resolved_model_cache_dir)


def seed_suffix(seed: int) -> str:
    """The result-file suffix of a run with another seed than ``SEED`` (none for ``SEED``)."""
    return "" if seed == SEED else f"_seed{seed}"


def describe() -> dict[str, Any]:
    """The configuration as recorded in each side's JSON result."""
    return {
        "model": MODEL,
        "prompts_per_step": PROMPTS_PER_STEP,
        "group_size": GROUP_SIZE,
        "max_new_tokens": MAX_NEW_TOKENS,
        "lora_rank": LORA_RANK,
        "lora_alpha": LORA_ALPHA,
        "lora_target_modules": LORA_TARGET_MODULES,
        "beta": BETA,
        "learning_rate": LEARNING_RATE,
        "temperature": TEMPERATURE,
        "dtype": DTYPE,
        "seed": SEED,
    }
