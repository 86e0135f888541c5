"""Each training step's graded rollouts, generated in step or one step ahead (``async_rollouts``).

Synchronous: step k's rollouts are generated with the weights after step k-1, then trained on.
One step ahead (verl's one-step off-policy, TRL's async GRPO): while step k trains, step k+1's
rollouts are generated from a copy of the weights taken just before step k's update, so step
k+1 trains on samples one update stale. The learner's truncated importance sampling weighs each
token by min(pi_train / pi_sample, C) against the sampler's recorded log-probs, which corrects
for that; ``async/staleness`` and ``sampling/*`` report it. At most one step is ever generated
ahead (the staleness bound is 1): the next launch waits until this one has been taken.

Grading overlaps generation in both modes: each group is graded as soon as its samples end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from openrft.training.data import Row
from openrft.training.grading import AsyncGrader, GradedBatch, GroupGrading
from openrft.training.rollout import GroupRollout, PinnedSampler, Rollouts, SamplingConfig


@dataclass(frozen=True)
class StepInputs:
    """What one step samples: its rows, their prompt ids, how, and how many per prompt."""

    rows: list[Row]
    prompts: list[list[int]]
    sampling: SamplingConfig
    group_size: int


@dataclass(frozen=True)
class StepRollouts:
    """One step's groups and grades. ``weights_step``: how many training steps the weights
    that sampled them had taken; ``generate_s``: wall time of the generation; ``grade_s``: the
    grading time left after generation ended (the rest ran alongside it)."""

    step: int
    groups: list[GroupRollout]
    graded: GradedBatch
    weights_step: int
    generate_s: float
    grade_s: float


class RolloutPipeline:
    """Generates and grades the steps' rollouts; ``ahead``: one step ahead of training."""

    def __init__(
        self,
        rollouts: Rollouts,
        grader: AsyncGrader,
        inputs: Callable[[int], StepInputs],
        *,
        ahead: bool,
        pinned: PinnedSampler | None,
    ):
        """``inputs(step)``: what step ``step`` samples. ``pinned``: the sampler, when it holds
        its own weights (it must, to generate ahead while the trainer updates its weights)."""
        if ahead and pinned is None:
            raise ValueError(
                "async_rollouts needs a sampler with its own copy of the weights "
                "(openrft's engine in process, Ray rollout workers or vLLM)"
            )
        self.rollouts = rollouts
        self.grader = grader
        self.inputs = inputs
        self.ahead = ahead
        self.pinned = pinned
        self.pending: asyncio.Task[StepRollouts] | None = None

    def pin_weights(self) -> None:
        """Let the sampler sample with the trainer's weights as they are now."""
        if self.pinned is not None:
            self.pinned.pin_weights()

    async def take(self, step: int, trained_steps: int) -> StepRollouts:
        """Step ``step``'s rollouts: the ones generated ahead, or generated now with the
        weights after ``trained_steps`` steps."""
        pending, self.pending = self.pending, None
        return await (pending or self._launch(step, trained_steps))

    def launch_next(self, step: int, trained_steps: int) -> None:
        """Before step ``step - 1`` trains: start generating step ``step`` (when ahead)."""
        if self.ahead:
            self.pending = self._launch(step, trained_steps)

    async def settle(self) -> None:
        """Wait until no generation runs (evaluation samples with nothing else running)."""
        if self.pending is not None:
            await asyncio.wait([self.pending])

    async def drop(self) -> None:
        """Discard what was generated ahead (cancel, pause, early stop, error); a generation
        thread cannot be interrupted, so this waits for it."""
        pending, self.pending = self.pending, None
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)

    def _launch(self, step: int, trained_steps: int) -> asyncio.Task[StepRollouts]:
        self.pin_weights()
        return asyncio.create_task(self._generate(step, trained_steps))

    async def _generate(self, step: int, trained_steps: int) -> StepRollouts:
        todo = self.inputs(step)
        grading = GroupGrading(self.grader, tag=f"step{step}")
        started = time.monotonic()
        groups = await self.rollouts.run(
            todo.rows, todo.prompts, todo.sampling, todo.group_size, on_group=grading.submit
        )
        generated = time.monotonic()
        graded = await grading.collect(groups)
        grade_s = time.monotonic() - generated
        return StepRollouts(step, groups, graded, trained_steps, generated - started, grade_s)
