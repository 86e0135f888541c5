"""Grade a batch of rollouts with the job's grader: rewards plus the grader's per-step metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from openrft.graders import GradeResult, GradingRequest, error_rate, mean_metrics
from openrft.training.rollout import GroupRollout


class AsyncGrader(Protocol):
    """The part of ``openrft.graders.Grader`` the trainer uses."""

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]: ...


@dataclass(frozen=True)
class GradedBatch:
    """rewards: (B*G,) float32, the G completions of each prompt contiguous."""

    rewards: torch.Tensor
    error_rate: float
    metrics: dict[str, float]  # "grader/<name>" -> mean over the batch
    results: list[GradeResult] = field(default_factory=list)  # one per completion, same order


def grading_requests(groups: Sequence[GroupRollout], tag: str) -> list[GradingRequest]:
    """One request per completion; ids ``{tag}-{group}-{sample}`` are unique in the batch."""
    requests = []
    for g, group in enumerate(groups):
        messages: list[dict[str, Any]] = list(group.row["messages"])
        for s, text in enumerate(group.texts):
            requests.append(
                GradingRequest(
                    id=f"{tag}-{g}-{s}", messages=messages, output_text=text, item=group.row
                )
            )
    return requests


async def grade_groups(
    grader: AsyncGrader, groups: Sequence[GroupRollout], tag: str
) -> GradedBatch:
    """Grade every completion. A batch the grader cannot grade raises ``GradingFailedError``."""
    requests = grading_requests(groups, tag)
    results = await grader.grade(requests)
    if len(results) != len(requests):
        raise RuntimeError(f"grader returned {len(results)} results for {len(requests)} requests")
    rewards = torch.tensor([float(r.reward) for r in results], dtype=torch.float32)
    return GradedBatch(
        rewards, error_rate=error_rate(results), metrics=mean_metrics(results), results=results
    )
