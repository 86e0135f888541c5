import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest

from openrft.graders import GradingFailedError
from openrft.training.config import EarlyStoppingConfig, TrainConfig
from openrft.training.controller import Roles, TrainingController
from openrft.training.rollout import SingleTurn
from tests.conftest import PRODUCT_STEP_METRICS
from tests.unit.training.fakes import (
    FakeCodec,
    FakeGrader,
    FakeLearner,
    FakeRuntime,
    FakeSampler,
    FakeWeights,
)

REQUIRED_KEYS = PRODUCT_STEP_METRICS | {"grader/len"}
NO_STOP = EarlyStoppingConfig(patience=100, min_delta=0.0, target_reward=None)
CONFIG = TrainConfig(
    batch_size=2,
    group_size=4,
    n_epochs=2,
    max_completion_tokens=6,
    eval_interval=2,
    eval_samples=2,
    early_stopping=NO_STOP,
    seed=7,
)


def rows(n: int) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"prompt {i}"}], "id": i} for i in range(n)]


def make(
    tmp_path: Path,
    config: TrainConfig = CONFIG,
    n_train: int = 5,
    grader=None,
    runtime: FakeRuntime | None = None,
):
    runtime = runtime or FakeRuntime(tmp_path / "store")
    sampler = FakeSampler()
    learners: list[FakeLearner] = []

    def make_learner(total: int) -> FakeLearner:
        learners.append(FakeLearner(sampler))
        return learners[-1]

    roles = Roles(
        runtime, FakeCodec(), sampler, grader or FakeGrader(), make_learner, FakeWeights()
    )
    controller = TrainingController(
        "ftjob-1", config, roles, rows(n_train), rows(3), tmp_path / "scratch"
    )
    return controller, runtime, sampler


# The data keys of the metrics event in Bedrock's RFT walkthrough (gpt-oss GSM8K).
BEDROCK_BLOG_KEYS = {
    "total_steps",
    "step",
    "critic_rewards_mean",
    "actor_pg_loss",
    "actor_entropy",
    "actor_grad_norm",
    "critic_advantages_mean",
    "response_length_mean",
}


async def test_full_run_reports_every_step_evaluates_and_checkpoints(tmp_path: Path) -> None:
    controller, runtime, sampler = make(tmp_path)
    assert controller.total_steps == 6  # ceil(5 / 2) * 2 epochs
    assert await controller.run() == "succeeded"

    metrics = runtime.metrics_events()
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    for m in metrics:
        assert set(m) >= REQUIRED_KEYS | BEDROCK_BLOG_KEYS
        assert m["total_steps"] == 6
    assert [m["step"] for m in metrics if "valid_reward_mean" in m] == [2, 4, 6]
    assert [m["step"] for m in metrics if "val-score/rewards/mean@2" in m] == [2, 4, 6]
    # The fake learner raises the reward; the validation reward climbs above the baseline.
    baseline = next(e for e in runtime.events if (e["data"] or {}).get("phase") == "baseline")
    assert metrics[-1]["valid_reward_mean"] > baseline["data"]["valid_reward_mean"] + 0.3
    assert sorted(runtime.checkpoints) == [2, 4, 6]
    assert runtime.finished == {"status": "succeeded", "fine_tuned_step": 6, "error": None}
    assert any(m.startswith("Final evaluation after step 6") for m in runtime.messages())
    assert runtime.progress[-1][0] > 0 and len(runtime.progress) == 6
    # One eval = 3 validation prompts x eval_samples; baseline + 3 evals + 6 train steps.
    assert sampler.calls.count((3, 2)) == 4
    assert sampler.calls.count((2, 4)) == 4 and sampler.calls.count((1, 4)) == 2
    table = list(csv.DictReader(io.StringIO(runtime.results["step_metrics.csv"].decode())))
    assert [r["step"] for r in table] == ["0", "1", "2", "3", "4", "5", "6"]
    assert table[0]["valid_reward_mean"] != "" and table[1]["valid_reward_mean"] == ""


async def test_epochs_visit_every_training_row_once_each(tmp_path: Path) -> None:
    grader = FakeGrader()
    controller, _, _ = make(tmp_path, replace(CONFIG, eval_interval=100), grader=grader)
    await controller.run()
    train_ids = [r.item["id"] for r in grader.seen if r.id.startswith("step")]
    per_row = {i: train_ids.count(i) for i in range(5)}
    assert per_row == {i: 2 * 4 for i in range(5)}  # 2 epochs x group_size


async def test_keeps_best_three_plus_latest(tmp_path: Path) -> None:
    rewards = iter([0.5, 0.9, 0.1, 0.8, 0.7, 0.2, 0.3])  # baseline, then steps 1..6
    config = replace(CONFIG, eval_interval=1, eval_samples=1)

    class OneRewardPerEval(FakeGrader):
        """Every sample of an evaluation gets its reward (groups are graded one by one, the
        first group first)."""

        value = 0.0

        async def grade(self, requests):
            results = await super().grade(requests)
            if requests[0].id.startswith("eval-0-0-"):
                self.value = next(rewards)
            if requests[0].id.startswith("eval"):
                for r in results:
                    r.reward = self.value
            return results

    controller, runtime, _ = make(tmp_path, config, grader=OneRewardPerEval())
    await controller.run()
    # Evaluated steps 1..6 score .9 .1 .8 .7 .2 .3: best three are 1, 3, 4; latest is 6.
    assert sorted(runtime.checkpoints) == [1, 3, 4, 6]
    assert sorted(runtime.deleted) == [2, 5]
    assert runtime.finished["fine_tuned_step"] == 1
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [
        "step-1",
        "step-3",
        "step-4",
        "step-6",
    ]


async def test_early_stopping_when_validation_reward_does_not_improve(tmp_path: Path) -> None:
    config = replace(
        CONFIG, eval_interval=1, early_stopping=EarlyStoppingConfig(patience=2, min_delta=0.01)
    )
    controller, runtime, _ = make(tmp_path, config, grader=FakeGrader(lambda text: 0.25))
    assert await controller.run() == "succeeded"
    assert [m["step"] for m in runtime.metrics_events()] == [1, 2]
    stop = next(m for m in runtime.messages() if m.startswith("Stopping early"))
    assert "has not improved" in stop and "min_delta=0.01" in stop
    assert runtime.finished["status"] == "succeeded"


async def test_early_stopping_at_target_reward(tmp_path: Path) -> None:
    config = replace(
        CONFIG,
        eval_interval=1,
        early_stopping=EarlyStoppingConfig(patience=100, min_delta=0.0, target_reward=0.5),
    )
    controller, runtime, _ = make(tmp_path, config)
    await controller.run()
    last = runtime.metrics_events()[-1]
    assert last["valid_reward_mean"] >= 0.5 and last["step"] < controller.total_steps
    assert any("reached the target_reward 0.5" in m for m in runtime.messages())


async def test_cancel_stops_before_the_next_step(tmp_path: Path) -> None:
    runtime = FakeRuntime(tmp_path / "store", controls={3: "cancel"})
    controller, runtime, _ = make(tmp_path, runtime=runtime)
    assert await controller.run() == "cancelled"
    assert [m["step"] for m in runtime.metrics_events()] == [1, 2]
    assert runtime.finished["status"] == "cancelled"
    assert "step_metrics.csv" in runtime.results


async def test_pause_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    straight, straight_rt, _ = make(tmp_path / "a")
    await straight.run()

    runtime = FakeRuntime(tmp_path / "b" / "store", controls={4: "pause"})
    paused, runtime, _ = make(tmp_path / "b", runtime=runtime)
    assert await paused.run() == "paused"
    assert runtime.finished["status"] == "paused"
    assert any(m.startswith("Paused after step 3") for m in runtime.messages())
    assert 3 in runtime.checkpoints

    runtime.controls = {}
    runtime.finished = None
    resumed, runtime, _ = make(tmp_path / "b", runtime=runtime)
    assert await resumed.run(resume_from=tmp_path / "b" / "store" / "step-3") == "succeeded"
    assert resumed.learner.steps == 6

    def key_metrics(rt: FakeRuntime) -> list[tuple]:
        return [
            (m["step"], m["train_reward_mean"], m.get("valid_reward_mean"))
            for m in rt.metrics_events()
        ]

    assert key_metrics(runtime) == key_metrics(straight_rt)
    # Step 3 was saved without evaluation and is pruned once a newer checkpoint exists.
    assert sorted(runtime.checkpoints) == [2, 4, 6]


async def test_long_prompts_are_skipped_with_an_event(tmp_path: Path) -> None:
    config = replace(CONFIG, max_prompt_tokens=8)  # "prompt 1" is 8 chars; add longer rows
    runtime = FakeRuntime(tmp_path / "store")
    sampler = FakeSampler()
    train = [*rows(3), {"messages": [{"role": "user", "content": "a much longer prompt"}]}]
    roles = Roles(
        runtime,
        FakeCodec(),
        sampler,
        FakeGrader(),
        lambda total: FakeLearner(sampler),
        FakeWeights(),
    )
    controller = TrainingController("ftjob-1", config, roles, train, rows(2), tmp_path / "s")
    assert len(controller.train) == 3
    warn = next(e for e in runtime.events if e["level"] == "warn")
    assert warn["message"].startswith("Skipped 1 of 4 training rows")
    assert "(rows 4)" in warn["message"]


async def test_no_usable_training_row_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"No training row .* max_prompt_tokens=2"):
        make(tmp_path, replace(CONFIG, max_prompt_tokens=2))


async def test_no_usable_validation_row_is_an_error(tmp_path: Path) -> None:
    runtime = FakeRuntime(tmp_path / "store")
    sampler = FakeSampler()
    roles = Roles(
        runtime,
        FakeCodec(),
        sampler,
        FakeGrader(),
        lambda total: FakeLearner(sampler),
        FakeWeights(),
    )
    long_valid = [{"messages": [{"role": "user", "content": "x" * 50}]}]
    with pytest.raises(ValueError, match="No validation row"):
        TrainingController(
            "ftjob-1",
            replace(CONFIG, max_prompt_tokens=20),
            roles,
            rows(4),
            long_valid,
            tmp_path / "s",
        )


async def test_a_grader_that_cannot_grade_pauses_the_job_before_training(
    tmp_path: Path,
) -> None:
    class Down(FakeGrader):
        calls = 0

        async def grade(self, requests):
            Down.calls += 1
            raise GradingFailedError("reward Lambda unreachable after 3 retries")

    controller, runtime, _ = make(tmp_path, grader=Down())
    assert await controller.run() == "paused"
    assert controller.learner.steps == 0  # nothing was trained on the errors
    assert runtime.finished is not None and runtime.finished["status"] == "paused"
    assert runtime.metrics_events() == []
    [error] = [e for e in runtime.events if e["level"] == "error"]
    assert error["message"].startswith("Paused before training step 1: the grader failed on 8 of 8")
    assert "reward Lambda unreachable after 3 retries" in error["message"]
    assert error["data"]["grader_error_rate"] == 1.0
    assert error["data"]["errors"][0]["count"] == 8
    # The baseline could not be graded either: a warning, and no baseline reward is invented.
    assert any(
        e["level"] == "warn" and e["message"].startswith("Baseline evaluation: the grader failed")
        for e in runtime.events
    )
    assert not any((e["data"] or {}).get("phase") == "baseline" for e in runtime.events)
    # Each group is graded on its own as soon as it is sampled: baseline (3 groups) and step 1
    # (2 groups), each 1 call + 1 retry round (a round that fixes nothing ends the retries).
    assert Down.calls == (3 + 2) * 2


def test_multi_turn_length_alarms_measure_against_every_turns_budget(tmp_path: Path) -> None:
    """A multi-turn rollout's length sums its turns, each capped at max_completion_tokens: the
    length_drift alarm must compare with max_turns x that cap (it fired on every tool job)."""
    config = replace(CONFIG, max_turns=3)
    single, _, _ = make(tmp_path / "single", config)
    assert single.watch.alarms.max_tokens == 6
    sampler, codec = FakeSampler(), FakeCodec()
    roles = Roles(
        FakeRuntime(tmp_path / "store"),
        codec,
        sampler,
        FakeGrader(),
        lambda total: FakeLearner(sampler),
        FakeWeights(),
        rollouts=SingleTurn(sampler, codec),  # any multi-turn Rollouts; only its presence counts
    )
    multi = TrainingController("ftjob-1", config, roles, rows(5), rows(3), tmp_path / "scratch")
    assert multi.watch.alarms.max_tokens == 18
