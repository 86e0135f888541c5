"""GSM8K loading and conversion to Bedrock-shaped RFT rows.

A raw GSM8K example is ``{"question": str, "answer": "<worked solution>\\n#### 72"}``. A demo row
is Bedrock's sample shape: ``{"messages": [{"role": "user", "content": <prompt>}],
"reference_answer": <worked solution>, "ground_truth": "72"}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openrft.demo.gsm8k_reward import extract_answer

PROMPT_SUFFIX = 'Let\'s think step by step and output the final answer after "####".'
# With Bedrock's user prompt alone, SmolLM2-135M rarely reaches a "####" line within the demo's
# token budget (0 of 8 greedy answers at 160 tokens; 1 of 32 samples in a first GRPO step), so
# almost every group has zero reward variance and GRPO learns nothing. This system message
# makes short, well-formed answers occasional (2 of 8) for base and tuned model alike, which is
# what GRPO needs; ``--system-prompt ""`` restores Bedrock's prompt exactly.
DEFAULT_SYSTEM_PROMPT = (
    "You are a concise math tutor. Solve the problem in a few short steps, then write the "
    "final answer on its own line as: #### <number>"
)
HUB_DATASET = ("openai/gsm8k", "main")


class DatasetUnavailableError(RuntimeError):
    """GSM8K could be found neither in the given directory nor on the Hugging Face hub."""


def build_prompt(question: str) -> str:
    """The user prompt of Bedrock's GSM8K walkthrough."""
    return f"{question.strip()} {PROMPT_SUFFIX}"


def to_row(example: dict[str, str], system_prompt: str | None = None) -> dict[str, Any]:
    """One raw GSM8K example as a Bedrock-shaped training row (optionally with a system turn)."""
    solution = example["answer"]
    truth = extract_answer(solution)
    if truth is None:
        raise ValueError(f"GSM8K answer has no '#### <number>' line: {solution[-80:]!r}")
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return {
        "messages": [*system, {"role": "user", "content": build_prompt(example["question"])}],
        "reference_answer": solution,
        "ground_truth": truth,
    }


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All non-blank lines of a JSONL file, parsed."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write rows one JSON object per line; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def load_gsm8k(split: str, gsm8k_dir: Path | None) -> list[dict[str, str]]:
    """Raw GSM8K examples of ``split`` ("train" or "test").

    Reads ``<gsm8k_dir>/<split>.jsonl`` when a directory is given, else downloads
    ``openai/gsm8k`` (config ``main``) with ``datasets``; raises DatasetUnavailableError
    explaining both options when neither works.
    """
    if gsm8k_dir is not None:
        path = Path(gsm8k_dir) / f"{split}.jsonl"
        if not path.is_file():
            raise DatasetUnavailableError(f"{path} not found (expected GSM8K {split}.jsonl)")
        return read_jsonl(path)
    try:
        from datasets import load_dataset

        hub = load_dataset(*HUB_DATASET, split=split)
        return [{"question": ex["question"], "answer": ex["answer"]} for ex in hub]
    except Exception as error:  # ImportError, offline, hub errors: all mean "not available"
        raise DatasetUnavailableError(
            "GSM8K is not available: pass --gsm8k-dir DIR (a directory holding train.jsonl and "
            "test.jsonl with 'question' and 'answer' fields), or install the 'hub' extra "
            f"(pip install 'openrft[hub]') and go online to fetch openai/gsm8k. Cause: {error}"
        ) from error


def sample(examples: list[dict[str, str]], count: int, seed: int) -> list[dict[str, str]]:
    """``count`` examples drawn without replacement, reproducibly for a given seed."""
    if count > len(examples):
        raise ValueError(f"asked for {count} examples but only {len(examples)} exist")
    return random.Random(seed).sample(examples, count)


def split_train_valid(
    examples: list[dict[str, str]],
    train_rows: int,
    valid_rows: int,
    seed: int,
    system_prompt: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Disjoint training and validation rows drawn from the GSM8K train split."""
    drawn = [to_row(ex, system_prompt) for ex in sample(examples, train_rows + valid_rows, seed)]
    return drawn[:train_rows], drawn[train_rows:]
