"""Grading overlapped with generation, and the one-step-ahead pipeline, on the loop's fakes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from openrft.graders import GradeResult, GradingRequest
from openrft.training.config import EarlyStoppingConfig, TrainConfig
from openrft.training.controller import Roles, TrainingController
from openrft.training.grading import GroupGrading
from openrft.training.rollout import SamplingConfig, SingleTurn
from tests.unit.training.fakes import (
    FakeCodec,
    FakeCompletion,
    FakeGrader,
    FakeLearner,
    FakeRuntime,
    FakeSampler,
    FakeWeights,
)

CONFIG = TrainConfig(
    batch_size=2,
    group_size=3,
    n_epochs=1,
    max_completion_tokens=5,
    eval_interval=100,
    eval_samples=1,
    early_stopping=EarlyStoppingConfig(patience=100, min_delta=0.0, target_reward=None),
    seed=1,
)


def rows(n: int) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"prompt {i}"}]} for i in range(n)]


class PinnedFakeSampler(FakeSampler):
    """Samples with the bias of its last ``pin_weights`` (its own copy of the weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = FakeSampler()  # what the fake learner updates: the trainer's weights
        self.pins: list[float] = []

    def pin_weights(self) -> None:
        self.bias = self.live.bias
        self.pins.append(self.bias)


def run(tmp_path: Path, config: TrainConfig, runtime: FakeRuntime | None = None):
    sampler = PinnedFakeSampler()
    runtime = runtime or FakeRuntime(tmp_path / "store")
    learners: list[FakeLearner] = []

    def make_learner(total: int) -> FakeLearner:
        learners.append(FakeLearner(sampler.live))
        return learners[-1]

    roles = Roles(runtime, FakeCodec(), sampler, FakeGrader(), make_learner, FakeWeights())
    controller = TrainingController("ftjob-s", config, roles, rows(8), rows(2), tmp_path / "s")
    return controller, runtime, sampler, learners


def test_async_rollouts_train_on_samples_one_step_stale_at_most(tmp_path: Path) -> None:
    controller, runtime, sampler, learners = run(tmp_path, replace(CONFIG, async_rollouts=True))
    assert asyncio.run(controller.run()) == "succeeded"
    metrics = runtime.metrics_events()
    assert [m["async/staleness"] for m in metrics] == [0, 1, 1, 1]
    # Pins: baseline eval, step 1, then steps 2..4 each pinned before the previous step
    # trained (bias of 1, 2, 3 updates behind by one), then the final eval.
    assert sampler.pins == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.4])
    assert learners[0].steps == 4


def test_synchronous_rollouts_are_never_stale(tmp_path: Path) -> None:
    controller, runtime, sampler, _ = run(tmp_path, CONFIG)
    assert asyncio.run(controller.run()) == "succeeded"
    assert [m["async/staleness"] for m in runtime.metrics_events()] == [0, 0, 0, 0]
    assert sampler.pins == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3, 0.4])
    # Evaluation time is its own entry of the split, on the steps that evaluate.
    assert ["timing/eval_s" in m for m in runtime.metrics_events()] == [False] * 3 + [True]


def test_pause_drops_the_step_generated_ahead_and_resume_regenerates_it(tmp_path: Path) -> None:
    config = replace(CONFIG, async_rollouts=True)
    controller, runtime, _, _ = run(tmp_path, config, FakeRuntime(tmp_path / "a", {3: "pause"}))
    assert asyncio.run(controller.run()) == "paused"
    assert [m["step"] for m in runtime.metrics_events()] == [1, 2]
    resumed, again, _, _ = run(tmp_path, config, FakeRuntime(tmp_path / "a"))
    assert asyncio.run(resumed.run(resume_from=tmp_path / "a" / "step-2")) == "succeeded"
    # The resumed step samples with the current weights; the next one is one step ahead.
    assert [(m["step"], m["async/staleness"]) for m in again.metrics_events()] == [(3, 0), (4, 1)]


def test_async_rollouts_need_a_sampler_with_its_own_weights(tmp_path: Path) -> None:
    sampler = FakeSampler()  # samples from the trainer's own weights
    roles = Roles(
        FakeRuntime(tmp_path),
        FakeCodec(),
        sampler,
        FakeGrader(),
        lambda total: FakeLearner(sampler),
        FakeWeights(),
    )
    with pytest.raises(ValueError, match="own copy of the weights"):
        TrainingController(
            "ftjob-x", replace(CONFIG, async_rollouts=True), roles, rows(4), rows(2), tmp_path
        )


class GatedSampler(FakeSampler):
    """Streams group 0, then waits (on the sampling thread) until the grader has seen it."""

    def __init__(self, graded_first: threading.Event) -> None:
        super().__init__()
        self.graded_first = graded_first
        self.overlapped = False

    def sample_streaming(
        self,
        prompts: list[list[int]],
        config: SamplingConfig,
        n: int,
        on_group: Callable[[int, list[FakeCompletion]], None],
    ) -> list[list[FakeCompletion]]:
        groups = self.sample(prompts, config, n)
        on_group(0, groups[0])
        self.overlapped = self.graded_first.wait(timeout=60)
        for index in range(1, len(groups)):
            on_group(index, groups[index])
        return groups


class SignallingGrader(FakeGrader):
    def __init__(self, graded_first: threading.Event) -> None:
        super().__init__()
        self.graded_first = graded_first

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        results = await super().grade(requests)
        if any(r.id.startswith("t-0-") for r in requests):
            self.graded_first.set()
        return results


def test_a_group_is_graded_while_the_others_are_still_generating() -> None:
    graded_first = threading.Event()
    sampler = GatedSampler(graded_first)
    grader = SignallingGrader(graded_first)

    async def step() -> list[float]:
        grading = GroupGrading(grader, tag="t")
        rollouts = SingleTurn(sampler, FakeCodec())
        config = SamplingConfig(4, 1.0, 1.0, seed=0)
        groups = await rollouts.run(rows(3), [[1, 2], [3], [4, 5]], config, 2, grading.submit)
        return (await grading.collect(groups)).rewards.tolist()

    rewards = asyncio.run(step())
    assert sampler.overlapped  # group 0 was graded before generation went on
    assert len(rewards) == 6
    assert [r.id for r in grader.seen[:2]] == ["t-0-0", "t-0-1"]


def test_validation_decodes_in_batches_of_a_training_steps_rows(tmp_path: Path) -> None:
    config = replace(CONFIG, eval_samples=2)  # 2 x 3 = 6 rows a step: 3 items x 2 samples a call
    sampler = FakeSampler()
    roles = Roles(
        FakeRuntime(tmp_path / "store"),
        FakeCodec(),
        sampler,
        FakeGrader(),
        lambda total: FakeLearner(sampler),
        FakeWeights(),
    )
    controller = TrainingController("ftjob-v", config, roles, rows(4), rows(7), tmp_path / "v")
    assert asyncio.run(controller.run()) == "succeeded"
    evals = [call for call in sampler.calls if call[1] == 2]  # training calls sample n=3
    # Baseline and final validation: 7 items in calls of 3, 3 and 1, each item sampled twice.
    assert evals == [(3, 2), (3, 2), (1, 2)] * 2
