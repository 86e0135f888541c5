"""``reward_workers``: a step's grading spread across Ray actors.

A slow grader (a Lambda, a python grader, a model judge) makes grading the step's longest part;
with ``reward_workers`` N > 1 on Ray, N ``RewardWorker`` actors each build the job's grader (with
the same grader context as the job's own process: sandbox, egress policy, job credential) and
grade a contiguous share of the step's requests at the same time. ``RayGrader`` returns the
results in request order, so the controller cannot tell it from the grader itself. Outside Ray
the job grades in its own process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from openrft.domain.jobs import JobSpec
from openrft.executors.ray_resources import job_resources
from openrft.graders import GradeResult, GradingRequest, build_grader
from openrft.settings import Settings
from openrft.training.controller import TrainingRuntime
from openrft.training.grading import AsyncGrader
from openrft.training.ray_workers import RoleActor, WorkerGroup, on_ray, shares, worker_group


class RewardWorker(RoleActor):
    """An async Ray actor holding one instance of the job's grader."""

    def __init__(self, spec: JobSpec, scratch_dir: str):
        from openrft.worker import own_grader_context

        ctx = own_grader_context(spec)
        scratch = Path(scratch_dir) / f"reward-worker-{os.getpid()}"
        self.grader = build_grader(spec.grader, dataclasses.replace(ctx, scratch_dir=scratch))

    async def grade(self, requests: list[GradingRequest]) -> list[GradeResult]:
        return await self.grader.grade(requests)


class RayGrader:
    """``AsyncGrader`` over reward actors: each grades a contiguous share of the requests."""

    def __init__(self, group: WorkerGroup):
        self.group = group

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        parts = shares(len(requests), len(self.group.actors))
        refs = [
            actor.grade.remote(list(requests[part]))
            for part, actor in zip(parts, self.group.actors, strict=False)
        ]
        answers = await asyncio.to_thread(self.group.collect, refs)
        return [result for share in answers for result in share]


@contextmanager
def reward_grader(
    spec: JobSpec,
    settings: Settings,
    runtime: TrainingRuntime,
    grader: AsyncGrader,
    scratch_dir: Path,
) -> Iterator[AsyncGrader]:
    """What grades the job's rollouts: ``grader`` itself, or ``reward_workers`` Ray actors
    (killed at exit), each reserving only the job's ``num_cpus``."""
    workers = int(spec.hyperparameters.get("reward_workers") or 1)
    if workers <= 1 or not on_ray(spec, runtime, "reward_workers", "grading"):
        yield grader
        return
    cpus = job_resources(settings, spec.hyperparameters).get("num_cpus", 1.0)
    with worker_group(
        "reward",
        spec,
        settings,
        runtime,
        RewardWorker,
        (spec, str(scratch_dir)),
        resources={"num_cpus": cpus},
        strategy="SPREAD",
    ) as group:
        yield RayGrader(group)
