"""The monitor grader in the loop: it grades every sample, never trains, raises the hacking alarm
when the training reward and the monitor's reward part ways, and can pick the checkpoint."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from openrft.training.config import TrainConfig
from openrft.training.controller import Roles, TrainingController
from tests.unit.training.fakes import (
    FakeCodec,
    FakeGrader,
    FakeLearner,
    FakeRuntime,
    FakeSampler,
    FakeWeights,
)
from tests.unit.training.test_controller import CONFIG, rows


def a_fraction(text: str) -> float:
    return text.count("a") / max(len(text), 1)


async def run(tmp_path: Path, monitor: FakeGrader | None, config: TrainConfig = CONFIG):
    """The fake learner makes 'a' more likely each step: the training reward rises."""
    runtime = FakeRuntime(tmp_path / "store")
    sampler = FakeSampler()
    grader = FakeGrader(a_fraction)
    roles = Roles(
        runtime,
        FakeCodec(),
        sampler,
        grader,
        lambda total: FakeLearner(sampler, lr=0.15),
        FakeWeights(),
        monitor=monitor,
    )
    controller = TrainingController(
        "ftjob-1", config, roles, rows(5), rows(3), tmp_path / "scratch"
    )
    assert await controller.run() == "succeeded"
    return runtime, grader


def alarms(runtime: FakeRuntime) -> list[dict]:
    return [e for e in runtime.events if (e["data"] or {}).get("alarm")]


async def test_a_monitor_that_falls_while_the_reward_rises_raises_the_hacking_alarm(
    tmp_path: Path,
) -> None:
    monitor = FakeGrader(lambda text: 1.0 - a_fraction(text))
    runtime, grader = await run(tmp_path, monitor)
    metrics = runtime.metrics_events()
    assert metrics[-1]["train_reward_mean"] > metrics[0]["train_reward_mean"]
    assert metrics[-1]["monitor/reward_mean"] < metrics[0]["monitor/reward_mean"]
    [alarm] = [e for e in alarms(runtime) if e["data"]["alarm"] == "reward_hacking"]
    assert alarm["level"] == "warn" and alarm["type"] == "message"
    assert alarm["message"].startswith("Possible reward hacking")
    # The alarm follows the metrics event of the step that showed it (step 6: two windows).
    index = runtime.events.index(alarm)
    assert runtime.events[index - 1]["type"] == "metrics"
    assert runtime.events[index - 1]["data"]["step"] == 6
    # The monitor grades the same completions; its verdicts never reach the learner.
    train_texts = [r.output_text for r in grader.seen if r.id.startswith("step")]
    assert [r.output_text for r in monitor.seen if r.id.startswith("step")] == train_texts
    assert "valid_monitor_reward_mean" in metrics[-1]


async def test_a_monitor_that_agrees_raises_no_hacking_alarm(tmp_path: Path) -> None:
    runtime, _ = await run(tmp_path, FakeGrader(a_fraction))
    assert not any(e["data"]["alarm"] == "reward_hacking" for e in alarms(runtime))
    assert runtime.metrics_events()[-1]["monitor/reward_gap_mean"] == 0.0


async def test_no_monitor_no_monitor_metrics(tmp_path: Path) -> None:
    runtime, _ = await run(tmp_path, None)
    assert not any(k.startswith("monitor/") for k in runtime.metrics_events()[-1])
    assert "completions/repetition_rate" in runtime.metrics_events()[-1]


async def test_checkpoints_can_be_selected_by_the_monitor(tmp_path: Path) -> None:
    monitor = FakeGrader(lambda text: 1.0 - a_fraction(text))
    by_reward, _ = await run(tmp_path / "r", monitor)
    by_monitor, _ = await run(
        tmp_path / "m",
        FakeGrader(lambda text: 1.0 - a_fraction(text)),
        replace(CONFIG, select_checkpoint_by="monitor"),
    )
    # The training reward peaks last (step 6); the monitor's validation reward first (step 2).
    assert by_reward.finished["fine_tuned_step"] == 6
    assert by_monitor.finished["fine_tuned_step"] == 2
    assert by_monitor.checkpoints[2]["valid_monitor_reward_mean"] > 0.5
