"""The trackers of one job's run, opened in the worker from its ``integrations``.

A tracker that fails mid-run costs a warning event, never the job: it is switched off and
training goes on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from openrft.domain.jobs import JobSpec
from openrft.domain.samples import RolloutSample
from openrft.settings import Settings


class Tracker(Protocol):
    @property
    def description(self) -> str: ...

    def on_samples(self, samples: Sequence[RolloutSample]) -> None: ...

    def on_step(self, step: int, metrics: dict[str, Any]) -> None: ...

    def on_finish(self, outcome: str) -> None: ...


class EventSink(Protocol):
    def add_event(self, job_id: str, message: str, *, level: str = ...) -> None: ...


class GuardedTracker:
    """A tracker whose first error becomes a warn event and switches it off; finishes once."""

    def __init__(self, tracker: Tracker, job_id: str, events: EventSink):
        self.tracker: Tracker | None = tracker
        self.job_id = job_id
        self.events = events

    def _call(self, what: str, *args: Any) -> None:
        if self.tracker is None:
            return
        tracker = self.tracker
        try:
            getattr(tracker, what)(*args)
        except Exception as exc:
            self.tracker = None
            self.events.add_event(
                self.job_id,
                f"Stopped logging to {tracker.description}: {type(exc).__name__}: {exc}"[:1000],
                level="warn",
            )

    def on_samples(self, samples: Sequence[RolloutSample]) -> None:
        self._call("on_samples", samples)

    def on_step(self, step: int, metrics: dict[str, Any]) -> None:
        self._call("on_step", step, metrics)

    def on_finish(self, outcome: str) -> None:
        self._call("on_finish", outcome)
        self.tracker = None


def open_tracker(integration: dict[str, Any], spec: JobSpec, settings: Settings) -> Tracker:
    """The tracker one normalized integration names."""
    kind = integration["type"]
    if kind == "wandb":
        from openrft.trackers.wandb_tracker import WandbTracker

        return WandbTracker(integration["wandb"], spec, settings.data_dir / "wandb" / spec.id)
    from openrft.trackers.mlflow_tracker import MlflowTracker

    return MlflowTracker(
        integration["mlflow"],
        spec,
        settings.resolved_mlflow_tracking_uri,
        settings.mlflow_artifact_location,
    )


@contextmanager
def job_trackers(
    spec: JobSpec, settings: Settings, events: EventSink
) -> Iterator[list[GuardedTracker]]:
    """Open every tracker the job names (an event says where each logs, or why it does not); a
    run that ends by an exception finishes them as failed."""
    trackers: list[GuardedTracker] = []
    for integration in spec.integrations or []:
        try:
            tracker = open_tracker(integration, spec, settings)
        except Exception as exc:
            message = f"Not logging to {integration['type']}: {type(exc).__name__}: {exc}"
            events.add_event(spec.id, message[:1000], level="warn")
            continue
        events.add_event(spec.id, f"Logging to {tracker.description}.")
        trackers.append(GuardedTracker(tracker, spec.id, events))
    try:
        yield trackers
    except BaseException:
        for guarded in trackers:
            guarded.on_finish("failed")
        raise
