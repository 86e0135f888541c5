"""Three-state grades in the loop: a real python grader that raises on about a third of the
samples; the learner must see exactly the graded samples, with advantages computed by hand."""

from __future__ import annotations

import statistics
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from openrft.graders import (
    GraderContext,
    GradingRequest,
    SandboxLimits,
    build_grader,
    validate_grader,
)
from openrft.training.controller import Roles, TrainingController
from tests.unit.training.fakes import FakeCodec, FakeLearner, FakeRuntime, FakeSampler, FakeWeights
from tests.unit.training.test_controller import CONFIG, rows

RAISES_ON_A_THIRD = textwrap.dedent(
    """
    def grade(sample, item):
        text = sample["output_text"]
        if len(text) % 3 == 0:
            raise ValueError("cannot grade a sample of length %d" % len(text))
        return text.count("a") / len(text)
    """
)
CONFIG_3X6 = replace(
    CONFIG, batch_size=3, group_size=6, n_epochs=1, max_steps=2, max_grader_error_rate=0.6
)


class Recording:
    """Passes requests to the real grader and keeps each training step's first request for
    every sample (not the retries, which re-send only the failed samples). Groups are graded
    one by one as they are sampled: ``first_calls`` joins them per step, in sample order."""

    def __init__(self, grader):
        self.grader = grader
        self.by_step: dict[str, dict[str, GradingRequest]] = defaultdict(dict)

    async def grade(self, requests: Sequence[GradingRequest]):
        for request in requests:
            step = request.id.split("-", 1)[0]
            if step.startswith("step"):
                self.by_step[step].setdefault(request.id, request)
        return await self.grader.grade(requests)

    @property
    def first_calls(self) -> list[list[GradingRequest]]:
        def order(request: GradingRequest) -> tuple[int, ...]:
            return tuple(int(part) for part in request.id.split("-")[1:])

        return [sorted(step.values(), key=order) for step in self.by_step.values()]


def hand_advantages(requests: list[GradingRequest]) -> tuple[list[list[str]], list[float], int]:
    """Kept texts per group, their advantages (group scaling, std + 1e-4), error count."""
    by_group: dict[str, list[str]] = defaultdict(list)
    for request in requests:
        by_group[request.id.rsplit("-", 1)[0]].append(request.output_text)
    kept_texts, advantages, errors = [], [], 0
    for texts in by_group.values():
        kept = [t for t in texts if len(t) % 3 != 0]
        errors += len(texts) - len(kept)
        if not kept:
            continue
        rewards = [t.count("a") / len(t) for t in kept]
        mean = sum(rewards) / len(rewards)
        std = statistics.stdev(rewards) if len(rewards) > 1 else 0.0
        kept_texts.append(kept)
        advantages += [0.0 if std == 0 else (r - mean) / (std + 1e-4) for r in rewards]
    return kept_texts, advantages, errors


async def test_samples_the_grader_raises_on_are_left_out_of_the_advantage(tmp_path: Path) -> None:
    limits = SandboxLimits(wall_time_s=5.0, cpu_time_s=5.0, memory_bytes=1024**3, workers=1)
    spec = validate_grader({"type": "python", "source": RAISES_ON_A_THIRD})
    grader = Recording(build_grader(spec, GraderContext(sandbox=limits)))
    runtime = FakeRuntime(tmp_path / "store")
    sampler = FakeSampler()
    learners: list[FakeLearner] = []
    roles = Roles(
        runtime,
        FakeCodec(),
        sampler,
        grader,
        lambda total: learners.append(FakeLearner(sampler)) or learners[-1],
        FakeWeights(),
    )
    controller = TrainingController(
        "ftjob-1", CONFIG_3X6, roles, rows(6), rows(2), tmp_path / "scratch"
    )
    try:
        assert await controller.run() == "succeeded"
    finally:
        await grader.grader.aclose()

    [learner] = learners
    assert len(grader.first_calls) == 2 == learner.steps
    total_errors = 0
    for requests, groups, advantages, metrics in zip(
        grader.first_calls,
        learner.groups,
        learner.advantages,
        runtime.metrics_events(),
        strict=True,
    ):
        kept_texts, expected, errors = hand_advantages(requests)
        total_errors += errors
        assert [g.texts for g in groups] == kept_texts
        assert advantages.tolist() == pytest.approx(expected, abs=1e-5)
        assert metrics["grader_error_rate"] == pytest.approx(errors / len(requests))
        kept_rewards = [t.count("a") / len(t) for texts in kept_texts for t in texts]
        assert metrics["train_reward_mean"] == pytest.approx(statistics.mean(kept_rewards))
        # The errored samples were graded again once; the grader failed the same way.
        assert metrics["grader_retried_samples"] == errors
    assert 0 < total_errors < 2 * 18  # some samples erred, not all
