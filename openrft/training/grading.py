"""Grade a batch of rollouts with the job's grader: three-state grades plus per-step metrics.

``GroupGrading`` grades each group as soon as the rollouts hand it out, while the engine still
decodes the others: graders wait on I/O or a sandbox, not on the model's CPU.

A grade is a reward or an error (an exception in the grader, a timeout, a bad Lambda answer, a
judge reply that does not parse, a batch the grader could not grade at all). Errors never pose
as rewards: the samples that still fail after ``RETRY_ROUNDS`` re-gradings are marked ungraded,
and the caller leaves them out of advantages and means.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from openrft.graders import GradeResult, GradingFailedError, GradingRequest, mean_metrics
from openrft.graders.types import describe_errors
from openrft.training.rollout import GroupRollout

# Re-grade the failed samples at most this often; a round that fixes none ends the retries
# early, so a grader that fails deterministically costs one extra round, not two.
RETRY_ROUNDS = 2
QUOTED_ERRORS = 3  # distinct error messages quoted in an event
QUOTED_LOG_CHARS = 4000  # characters of failed calls' logs in an event


class AsyncGrader(Protocol):
    """The part of ``openrft.graders.Grader`` the trainer uses."""

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]: ...


@dataclass(frozen=True)
class GradedBatch:
    """rewards, graded: (B*G,), the G completions of each prompt contiguous.

    ``rewards`` is float32 (0.0 where not graded, never to be read there); ``graded`` is bool,
    False where every attempt errored. ``errors`` maps each distinct error message to its count.
    """

    rewards: torch.Tensor
    graded: torch.Tensor
    errors: Counter[str]
    metrics: dict[str, float]  # "grader/<name>" -> mean over the graded samples
    retried: int = 0  # samples graded again after an error
    results: list[GradeResult] = field(default_factory=list)  # one per completion, same order

    @property
    def error_rate(self) -> float:
        """Fraction of samples left ungraded after the retries."""
        return 1.0 - self.graded.float().mean().item() if self.graded.numel() else 0.0

    @property
    def graded_rewards(self) -> list[float]:
        return self.rewards[self.graded].tolist()

    def quoted_errors(self) -> str:
        """The most frequent error messages, e.g. ``'12x python_grader_runtime_error: ...'``."""
        return "; ".join(f"{n}x {text}" for text, n in self.errors.most_common(QUOTED_ERRORS))

    def error_logs(self) -> str:
        """What the grader's code printed or logged in calls that failed (bounded)."""
        failed = [r for r, ok in zip(self.results, self.graded.tolist(), strict=True) if not ok]
        return quoted_logs(failed)


def quoted_logs(results: Sequence[GradeResult]) -> str:
    """The distinct logs of ``results``, at most ``QUOTED_LOG_CHARS`` characters of them."""
    distinct = list(dict.fromkeys(r.logs for r in results if r.logs))
    text = "\n---\n".join(distinct)
    return text if len(text) <= QUOTED_LOG_CHARS else text[:QUOTED_LOG_CHARS] + "\n[...]"


def grading_requests(groups: Sequence[GroupRollout], tag: str) -> list[GradingRequest]:
    """One request per completion; ids ``{tag}-{group}-{sample}`` are unique in the batch."""
    return [r for g, group in enumerate(groups) for r in group_requests(g, group, tag)]


def group_requests(index: int, group: GroupRollout, tag: str) -> list[GradingRequest]:
    """The requests of group ``index`` of a batch, ids ``{tag}-{index}-{sample}``."""
    messages: list[dict[str, Any]] = list(group.row["messages"])
    requests = []
    for s, text in enumerate(group.texts):
        trajectory = group.trajectories[s] if group.trajectories is not None else None
        requests.append(
            GradingRequest(
                id=f"{tag}-{index}-{s}",
                messages=messages,
                output_text=text,
                item=group.row,
                output_messages=trajectory.messages if trajectory is not None else None,
            )
        )
    return requests


async def grade_requests(
    grader: AsyncGrader, requests: Sequence[GradingRequest]
) -> tuple[list[GradeResult], list[str | None]]:
    """One result and one error message (None when graded) per request.

    A whole batch the grader gives up on (``GradingFailedError``) errors every sample of it.
    """
    try:
        results = await grader.grade(requests)
    except GradingFailedError as exc:
        failed = GradeResult.failed("unresponsive_reward_error", logs=exc.logs)
        return [failed] * len(requests), [f"unresponsive_reward_error: {exc}"] * len(requests)
    if len(results) != len(requests):
        raise RuntimeError(f"grader returned {len(results)} results for {len(requests)} requests")
    return list(results), [describe_errors(r) if r.has_error else None for r in results]


async def grade_with_retries(
    grader: AsyncGrader, requests: Sequence[GradingRequest]
) -> tuple[list[GradeResult], list[str | None], int]:
    """Grade, then re-grade the samples that errored (``RETRY_ROUNDS`` at most).

    Returns results, error messages (None where graded) and how many samples were retried.
    """
    results, errors = await grade_requests(grader, requests)
    retried = 0
    for _ in range(RETRY_ROUNDS):
        pending = [i for i, error in enumerate(errors) if error is not None]
        if not pending:
            break
        retried += len(pending)
        again, again_errors = await grade_requests(grader, [requests[i] for i in pending])
        fixed = 0
        for i, result, error in zip(pending, again, again_errors, strict=True):
            results[i], errors[i] = result, error
            fixed += error is None
        if fixed == 0:
            break
    return results, errors, retried


async def grade_groups(
    grader: AsyncGrader, groups: Sequence[GroupRollout], tag: str
) -> GradedBatch:
    """Grade every completion of ``groups`` (with retries) as one ``GradedBatch``."""
    results, errors, retried = await grade_with_retries(grader, grading_requests(groups, tag))
    return graded_batch(results, errors, retried)


def graded_batch(
    results: Sequence[GradeResult], errors: Sequence[str | None], retried: int
) -> GradedBatch:
    """The ``GradedBatch`` of one result and error (None: graded) per completion."""
    graded = torch.tensor([error is None for error in errors], dtype=torch.bool)
    rewards = torch.tensor(
        [r.reward if error is None else 0.0 for r, error in zip(results, errors, strict=True)],
        dtype=torch.float32,
    )
    return GradedBatch(
        rewards,
        graded,
        errors=Counter(error for error in errors if error is not None),
        metrics=mean_metrics([r for r, error in zip(results, errors, strict=True) if not error]),
        retried=retried,
        results=list(results),
    )


Graded = tuple[list[GradeResult], list[str | None], int]  # grade_with_retries of one group


class GroupGrading:
    """Grades rollout groups as they finish, then gives the batch's ``GradedBatch``.

    Build it on the event loop; ``submit`` may be called from any thread (the generation
    thread's ``on_group``). Each group is graded with its own retries.
    """

    def __init__(self, grader: AsyncGrader, tag: str):
        self.grader = grader
        self.tag = tag
        self.loop = asyncio.get_running_loop()
        self.tasks: dict[int, asyncio.Task[Graded]] = {}

    def submit(self, index: int, group: GroupRollout) -> None:
        """Start grading group ``index`` of the batch (thread-safe)."""
        self.loop.call_soon_threadsafe(self._start, index, group)

    def _start(self, index: int, group: GroupRollout) -> None:
        if index not in self.tasks:
            requests = group_requests(index, group, self.tag)
            self.tasks[index] = self.loop.create_task(grade_with_retries(self.grader, requests))

    async def collect(self, groups: Sequence[GroupRollout]) -> GradedBatch:
        """Wait for every group's grades (starting any not submitted) and join them in the
        order of ``groups``."""
        for index, group in enumerate(groups):
            self._start(index, group)
        graded = await asyncio.gather(*(self.tasks[i] for i in range(len(groups))))
        results = [r for group_results, _, _ in graded for r in group_results]
        errors = [e for _, group_errors, _ in graded for e in group_errors]
        return graded_batch(results, errors, sum(retried for _, _, retried in graded))


def graded_groups(
    groups: Sequence[GroupRollout], advantages: torch.Tensor, graded: torch.Tensor
) -> tuple[list[GroupRollout], torch.Tensor]:
    """The groups with their ungraded completions removed (and groups left empty dropped),
    with the matching advantages: what the learner trains on. advantages, graded: (B*G,)."""
    kept_groups, kept_adv = [], []
    start = 0
    for group in groups:
        n = len(group.completions)
        keep = graded[start : start + n].tolist()
        if any(keep):
            kept_groups.append(
                GroupRollout(
                    row=group.row,
                    prompt_ids=group.prompt_ids,
                    completions=[c for c, k in zip(group.completions, keep, strict=True) if k],
                    texts=[t for t, k in zip(group.texts, keep, strict=True) if k],
                )
            )
            kept_adv.append(advantages[start : start + n][graded[start : start + n]])
        start += n
    return kept_groups, torch.cat(kept_adv) if kept_adv else advantages[:0]
