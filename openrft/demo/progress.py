"""Follow a fine-tuning job live: step, rewards and ETA from its events, polled with the SDK."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI
from openai.types.fine_tuning import FineTuningJob
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "paused"})


@dataclass
class JobHistory:
    """Everything seen of a job's events so far: per-step metrics and messages."""

    metrics: dict[int, dict[str, Any]] = field(default_factory=dict)
    seen_ids: set[str] = field(default_factory=set)
    first_metric_at: float | None = None

    def record(self, events: list[Any]) -> list[str]:
        """Add unseen events listed newest first (the API's order); returns their messages,
        oldest first."""
        new = [event for event in reversed(events) if event.id not in self.seen_ids]
        new.sort(key=lambda event: event.created_at)  # stable: same-second events keep order
        messages = []
        for event in new:
            self.seen_ids.add(event.id)
            data = event.data if isinstance(event.data, dict) else {}
            if event.type == "metrics" and "step" in data:
                self.metrics[int(data["step"])] = data
                if self.first_metric_at is None:
                    self.first_metric_at = time.monotonic() - float(data.get("step_time_s", 0.0))
            else:
                if data.get("phase") == "baseline" and "valid_reward_mean" in data:
                    self.metrics[0] = data  # step 0 of the reward curve
                messages.append(event.message)
        return messages

    def latest(self) -> dict[str, Any]:
        return self.metrics[max(self.metrics)] if self.metrics else {}

    def eta_seconds(self) -> float | None:
        """Remaining time extrapolated from the mean time per step so far."""
        latest = self.latest()
        if not latest or self.first_metric_at is None or not latest.get("total_steps"):
            return None
        step, total = int(latest["step"]), int(latest["total_steps"])
        per_step = (time.monotonic() - self.first_metric_at) / max(step, 1)
        return per_step * max(total - step, 0)


def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def render_status(job: FineTuningJob, history: JobHistory) -> Group:
    """The live panel: a progress bar and a line of the latest step's numbers."""
    latest = history.latest()
    step, total = int(latest.get("step", 0)), int(latest.get("total_steps", 0) or 0)
    valid = next(
        (
            m["valid_reward_mean"]
            for _, m in sorted(history.metrics.items(), reverse=True)
            if m.get("valid_reward_mean") is not None
        ),
        None,
    )
    eta = history.eta_seconds()
    table = Table.grid(padding=(0, 2))
    for _ in range(7):
        table.add_column()
    table.add_row(
        f"[bold]{job.status}[/]",
        f"step {step}/{total or '?'}",
        f"reward {_fmt(latest.get('train_reward_mean'))}",
        f"valid {_fmt(valid)}",
        f"accuracy {_fmt(latest.get('grader/accuracy'), 2)}",
        f"format {_fmt(latest.get('grader/format'), 2)}",
        "ETA –" if eta is None else f"ETA {eta / 60:.1f} min",
    )
    return Group(ProgressBar(total=max(total, 1), completed=step, width=60), table)


def follow_job(
    client: OpenAI, job_id: str, console: Console, poll_s: float = 2.0
) -> tuple[FineTuningJob, JobHistory]:
    """Poll the job and its events until it reaches a terminal status; show progress live."""
    history = JobHistory()
    job = client.fine_tuning.jobs.retrieve(job_id)
    with Live(render_status(job, history), console=console, refresh_per_second=2) as live:
        while True:
            events = client.fine_tuning.jobs.list_events(job_id, limit=100).data
            for message in history.record(list(events)):
                live.console.print(f"  [dim]{message}[/]")
            job = client.fine_tuning.jobs.retrieve(job_id)
            live.update(render_status(job, history))
            if job.status in TERMINAL_STATUSES:
                break
            time.sleep(poll_s)
    # Pick up anything older than the last page (a long job can outrun one poll).
    history.record(list(client.fine_tuning.jobs.list_events(job_id, limit=100)))
    return job, history
