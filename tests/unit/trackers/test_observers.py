"""A tracker that fails mid-run costs one warning event and is switched off; the job goes on."""

from __future__ import annotations

from typing import Any

from openrft.trackers.observers import GuardedTracker


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def add_event(self, job_id: str, message: str, *, level: str = "info") -> None:
        self.seen.append((level, message))


class Flaky:
    description = "W&B run ftjob-1 in project p"

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.finished: list[str] = []

    def on_samples(self, samples: Any) -> None:
        raise ConnectionError("upload refused")

    def on_step(self, step: int, metrics: dict[str, Any]) -> None:
        self.steps.append(step)

    def on_finish(self, outcome: str) -> None:
        self.finished.append(outcome)


def test_the_first_error_is_a_warning_and_the_tracker_is_switched_off() -> None:
    events, flaky = Events(), Flaky()
    guarded = GuardedTracker(flaky, "ftjob-1", events)
    guarded.on_step(1, {"train_reward_mean": 0.5})
    guarded.on_samples([])
    guarded.on_step(2, {"train_reward_mean": 0.6})
    guarded.on_finish("succeeded")
    assert flaky.steps == [1] and flaky.finished == []
    assert events.seen == [
        ("warn", "Stopped logging to W&B run ftjob-1 in project p: ConnectionError: upload refused")
    ]


def test_a_tracker_finishes_once() -> None:
    flaky = Flaky()
    guarded = GuardedTracker(flaky, "ftjob-1", Events())
    guarded.on_finish("succeeded")
    guarded.on_finish("failed")  # the run ended by an exception after the loop finished
    assert flaky.finished == ["succeeded"]
