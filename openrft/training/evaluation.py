"""Validation: sample ``eval_samples`` completions per validation item, grade, average."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from openrft.domain.samples import RolloutSample
from openrft.training.data import Row
from openrft.training.grading import AsyncGrader, grade_groups
from openrft.training.rollout import Codec, Sampler, SamplingConfig, rollout
from openrft.training.samples import eval_samples

EVAL_PROMPTS_PER_CALL = 16  # bounds the generation batch (prompts x eval_samples rows)


@dataclass(frozen=True)
class EvalResult:
    reward_mean: float
    reward_std: float
    response_length_mean: float
    n_items: int
    n_samples: int
    samples: list[RolloutSample] = field(default_factory=list)  # every graded sample


async def evaluate(
    sampler: Sampler,
    codec: Codec,
    grader: AsyncGrader,
    items: Sequence[tuple[Row, list[int]]],
    config: SamplingConfig,
    samples: int,
    *,
    step: int = 0,
) -> EvalResult:
    """Mean reward over every (item, sample); ``items`` pairs each row with its prompt ids.
    ``step`` is the training step the evaluation follows (0 = baseline), kept on the samples."""
    rewards: list[float] = []
    lengths: list[int] = []
    kept: list[RolloutSample] = []
    for start in range(0, len(items), EVAL_PROMPTS_PER_CALL):
        chunk = items[start : start + EVAL_PROMPTS_PER_CALL]
        groups = rollout(
            sampler, codec, [r for r, _ in chunk], [p for _, p in chunk], config, samples
        )
        graded = await grade_groups(grader, groups, tag=f"eval-{start}")
        rewards.extend(graded.rewards.tolist())
        kept += eval_samples(step, groups, start, graded.results)
        lengths.extend(len(c.token_ids) for g in groups for c in g.completions)
    n = max(len(rewards), 1)
    mean = sum(rewards) / n
    std = (sum((r - mean) ** 2 for r in rewards) / max(len(rewards) - 1, 1)) ** 0.5
    return EvalResult(mean, std, sum(lengths) / n, len(items), samples, kept)
