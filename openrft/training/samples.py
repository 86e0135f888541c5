"""Rollout samples a job keeps: a bounded, seeded sample of each training step's rollouts (whole
groups, so a sample's advantage can be read against its group) and every validation sample."""

from __future__ import annotations

import random
from collections.abc import Sequence

from openrft.domain.samples import RolloutSample, Split
from openrft.graders import GradeResult
from openrft.training.rollout import GroupRollout

# Completions kept per training step (rounded down to whole groups, at least one group).
TRAIN_SAMPLES_PER_STEP = 32


def group_samples(
    step: int,
    split: Split,
    item: int,
    group: GroupRollout,
    results: Sequence[GradeResult],
    advantages: Sequence[float] | None = None,
) -> list[RolloutSample]:
    """One sample per completion of ``group``; ``results`` (and ``advantages``) in its order."""
    return [
        RolloutSample(
            step=step,
            split=split,
            item=item,
            sample=index,
            prompt=list(group.row["messages"]),
            completion=group.texts[index],
            reward=float(result.reward),
            finish_reason=completion.finish_reason,
            completion_tokens=len(completion.token_ids),
            prompt_tokens=len(group.prompt_ids),
            scores={**result.sub_rewards, **result.metrics},
            errors=sorted(k for k, v in result.errors.items() if v is True),
            advantage=None if advantages is None else float(advantages[index]),
        )
        for index, (completion, result) in enumerate(zip(group.completions, results, strict=True))
    ]


def train_samples(
    step: int,
    groups: Sequence[GroupRollout],
    items: Sequence[int],
    results: Sequence[GradeResult],
    advantages: Sequence[float],
    seed: int,
) -> list[RolloutSample]:
    """The kept samples of one training step: ``TRAIN_SAMPLES_PER_STEP // G`` groups drawn with
    a generator seeded by (``seed``, ``step``). ``items[g]`` is group g's training row index;
    ``results``/``advantages`` are flat, the G completions of each group contiguous."""
    if not groups:
        return []
    size = len(groups[0].completions)
    keep = min(len(groups), max(1, TRAIN_SAMPLES_PER_STEP // max(size, 1)))
    chosen = sorted(random.Random(seed * 1_000_003 + step).sample(range(len(groups)), keep))
    kept: list[RolloutSample] = []
    for g in chosen:
        span = slice(g * size, (g + 1) * size)
        kept += group_samples(step, "train", items[g], groups[g], results[span], advantages[span])
    return kept


def eval_samples(
    step: int, groups: Sequence[GroupRollout], first_item: int, results: Sequence[GradeResult]
) -> list[RolloutSample]:
    """Every sample of an evaluation chunk whose first group is validation row ``first_item``."""
    size = len(groups[0].completions) if groups else 0
    kept: list[RolloutSample] = []
    for g, group in enumerate(groups):
        span = results[g * size : (g + 1) * size]
        kept += group_samples(step, "valid", first_item + g, group, span)
    return kept
