"""Base-vs-tuned comparison on held-out GSM8K questions through ``chat.completions``.

Requests are sent concurrently so that the server can batch them; decoding is greedy
(temperature 0) so each model's score on a question is deterministic.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from openai import AsyncOpenAI

from openrft.demo.gsm8k_reward import score_completion
from openrft.domain.stats import Estimate, paired_difference_interval, wilson_interval


@dataclass(frozen=True)
class ModelScores:
    """Per-question outcomes of one model, in the order of the questions."""

    model: str
    correct: list[bool]
    formatted: list[bool]
    completions: list[str]

    def accuracy(self) -> Estimate:
        return wilson_interval(sum(self.correct), len(self.correct))

    def format_rate(self) -> Estimate:
        return wilson_interval(sum(self.formatted), len(self.formatted))


@dataclass(frozen=True)
class Comparison:
    """Base and tuned outcomes on the same questions, with paired differences."""

    base: ModelScores
    tuned: ModelScores

    def accuracy_gain(self) -> Estimate:
        return paired_difference_interval(self.tuned.correct, self.base.correct)

    def format_gain(self) -> Estimate:
        return paired_difference_interval(self.tuned.formatted, self.base.formatted)

    def as_dict(self) -> dict[str, Any]:
        """The comparison part of results.json."""

        def side(scores: ModelScores) -> dict[str, Any]:
            return {
                "model": scores.model,
                "accuracy": scores.accuracy().as_dict(),
                "format_rate": scores.format_rate().as_dict(),
            }

        def gain(estimate: Estimate) -> dict[str, Any]:
            return {**estimate.as_dict(), "excludes_zero": estimate.excludes_zero}

        return {
            "n_questions": len(self.base.correct),
            "base": side(self.base),
            "tuned": side(self.tuned),
            "improvement": {
                "interval": "Newcombe paired-difference 95% (tuned - base)",
                "accuracy": gain(self.accuracy_gain()),
                "format_rate": gain(self.format_gain()),
            },
        }

    def per_question(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One record per question with both completions and scores (``comparison.jsonl``)."""
        return [
            {
                "prompt": row["messages"][-1]["content"],
                "ground_truth": row["ground_truth"],
                "base": {
                    "completion": self.base.completions[i],
                    "correct": self.base.correct[i],
                    "formatted": self.base.formatted[i],
                },
                "tuned": {
                    "completion": self.tuned.completions[i],
                    "correct": self.tuned.correct[i],
                    "formatted": self.tuned.formatted[i],
                },
            }
            for i, row in enumerate(rows)
        ]


async def _complete(
    client: AsyncOpenAI, model: str, row: dict[str, Any], max_tokens: int, gate: asyncio.Semaphore
) -> str:
    async with gate:
        response = await client.chat.completions.create(
            model=model, messages=row["messages"], temperature=0.0, max_tokens=max_tokens
        )
    return response.choices[0].message.content or ""


async def score_model(
    client: AsyncOpenAI,
    model: str,
    rows: list[dict[str, Any]],
    *,
    max_tokens: int,
    concurrency: int,
) -> ModelScores:
    """Greedy completions of ``model`` for every row, scored with the demo reward."""
    gate = asyncio.Semaphore(concurrency)
    completions = await asyncio.gather(
        *(_complete(client, model, row, max_tokens, gate) for row in rows)
    )
    scores = [
        score_completion(text, row["ground_truth"])
        for text, row in zip(completions, rows, strict=True)
    ]
    return ModelScores(
        model=model,
        correct=[accuracy == 1.0 for accuracy, _ in scores],
        formatted=[formatted == 1.0 for _, formatted in scores],
        completions=list(completions),
    )


async def compare_models(
    client: AsyncOpenAI,
    base_model: str,
    tuned_model: str,
    rows: list[dict[str, Any]],
    *,
    max_tokens: int,
    concurrency: int,
) -> Comparison:
    """Score the base model, then the tuned one, on the same rows."""
    options: dict[str, int] = {"max_tokens": max_tokens, "concurrency": concurrency}
    base = await score_model(client, base_model, rows, **options)
    tuned = await score_model(client, tuned_model, rows, **options)
    return Comparison(base=base, tuned=tuned)
