"""Rollout samples the loop keeps: bounded seeded whole groups per step, every eval sample."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from openrft.graders import GradeResult
from openrft.training.controller import clipped_ratio
from openrft.training.rollout import GroupRollout
from openrft.training.samples import TRAIN_SAMPLES_PER_STEP, train_samples
from tests.unit.training.fakes import FakeCompletion, FakeGrader
from tests.unit.training.test_controller import CONFIG, make


def groups(n: int, size: int) -> list[GroupRollout]:
    return [
        GroupRollout(
            row={"messages": [{"role": "user", "content": f"p{g}"}]},
            prompt_ids=[1, 2, 3],
            completions=[
                FakeCompletion([g, s], [0.0, 0.0], "length" if s == 0 else "stop")
                for s in range(size)
            ],
            texts=[f"g{g}s{s}" for s in range(size)],
        )
        for g in range(n)
    ]


def test_train_samples_keep_whole_groups_up_to_the_cap_seeded_by_step() -> None:
    batch = groups(10, 8)
    results = [GradeResult(reward=i / 80, sub_rewards={"a": 1.0}) for i in range(80)]
    advantages = [i - 40.0 for i in range(80)]
    items = list(range(100, 110))
    kept = train_samples(5, batch, items, results, advantages, seed=1)
    assert len(kept) == TRAIN_SAMPLES_PER_STEP == 32  # 4 whole groups of 8
    chosen = sorted({s.item for s in kept})
    assert len(chosen) == 4
    for sample in kept:
        g = sample.item - 100
        flat = g * 8 + sample.sample
        assert sample.completion == f"g{g}s{sample.sample}"
        assert sample.reward == results[flat].reward and sample.advantage == advantages[flat]
        assert sample.prompt == [{"role": "user", "content": f"p{g}"}]
        assert (sample.step, sample.split, sample.scores) == (5, "train", {"a": 1.0})
        assert sample.finish_reason == ("length" if sample.sample == 0 else "stop")
        assert (sample.completion_tokens, sample.prompt_tokens) == (2, 3)
    again = train_samples(5, batch, items, results, advantages, seed=1)
    assert [s.item for s in again] == [s.item for s in kept]
    others = {
        tuple(sorted({s.item for s in train_samples(k, batch, items, results, advantages, 1)}))
        for k in range(6, 16)
    }
    assert len(others) > 1  # another step draws other groups


def test_a_small_batch_is_kept_whole_and_a_huge_group_keeps_one() -> None:
    small = train_samples(1, groups(2, 4), [0, 1], [GradeResult(0.0)] * 8, [0.0] * 8, 0)
    assert len(small) == 8
    huge = train_samples(1, groups(3, 64), [0, 1, 2], [GradeResult(0.0)] * 192, [0.0] * 192, 0)
    assert len(huge) == 64 and len({s.item for s in huge}) == 1


def test_clipped_ratio_is_the_fraction_cut_at_the_token_limit() -> None:
    assert clipped_ratio(groups(3, 4)) == pytest.approx(0.25)


async def test_the_loop_keeps_train_and_every_validation_sample(tmp_path: Path) -> None:
    controller, runtime, _ = make(tmp_path, grader=FakeGrader())
    await controller.run()
    valid = [s for s in runtime.samples if s.split == "valid"]
    train = [s for s in runtime.samples if s.split == "train"]
    # Baseline + evals after steps 2, 4, 6; each: 3 items x eval_samples 2.
    assert sorted({s.step for s in valid}) == [0, 2, 4, 6]
    assert all(sum(s.step == k for s in valid) == 6 for k in (0, 2, 4, 6))
    assert {(s.item, s.sample) for s in valid if s.step == 4} == {
        (i, j) for i in range(3) for j in range(2)
    }
    assert all(s.advantage is None and s.scores["len"] == len(s.completion) for s in valid)
    # Every step keeps its whole batch here (2 prompts x 4 < the cap); advantages sum to ~0.
    assert sorted({s.step for s in train}) == [1, 2, 3, 4, 5, 6]
    step_one = [s for s in train if s.step == 1]
    assert len(step_one) == 8 and abs(sum(s.advantage or 0 for s in step_one)) < 1e-4
    metrics = runtime.metrics_events()
    assert all(0.0 <= m["completions/clipped_ratio"] <= 1.0 for m in metrics)


async def test_eval_sample_rewards_match_the_reported_validation_mean(tmp_path: Path) -> None:
    controller, runtime, _ = make(tmp_path, replace(CONFIG, eval_interval=3))
    await controller.run()
    for m in runtime.metrics_events():
        if "valid_reward_mean" in m:
            rewards = [
                s.reward for s in runtime.samples if s.split == "valid" and s.step == m["step"]
            ]
            assert m["valid_reward_mean"] == pytest.approx(sum(rewards) / len(rewards))
