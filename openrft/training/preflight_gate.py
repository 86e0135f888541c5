"""A job's own preflight (``method.reinforcement.preflight``: ``warn`` or ``block``).

Runs once, before the baseline evaluation of a fresh run (never on resume), on the policy the
job is about to train. The report goes to the result file ``preflight.json`` and an event whose
``data.preflight`` holds everything but the samples (the dashboard's preflight panel reads it).
With ``block``, a ``block`` verdict fails the job (``preflight_blocked``) before any training.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from openrft.domain.jobs import JobSpec
from openrft.domain.probes import uses_model
from openrft.errors import OpenRFTError
from openrft.training.config import TrainConfig
from openrft.training.controller import TrainingRuntime
from openrft.training.data import Row
from openrft.training.grading import AsyncGrader
from openrft.training.preflight import PreflightPlan, run_preflight
from openrft.training.rollout import Codec, Rollouts

RESULT_FILENAME = "preflight.json"
EVENT_LEVELS = {"ok": "info", "info": "info", "warn": "warn", "block": "error"}


class PreflightBlockedError(OpenRFTError):
    """The job's preflight (mode ``block``) found a problem that makes training pointless."""

    default_code = "preflight_blocked"


def event_message(report: dict[str, Any]) -> str:
    findings = [f["message"] for f in report["findings"] if f["level"] != "info"]
    forecast = report["forecast"]
    head = (
        f"Preflight {report['verdict']}: learnable fraction "
        f"{report['groups']['learnable_fraction']:.0%}, forecast {forecast['steps']} steps in "
        f"about {forecast['wall_time_s'] / 60:.0f} min."
    )
    return " ".join([head, *findings]) if findings else f"{head} No problems found."


async def preflight_gate(
    spec: JobSpec,
    config: TrainConfig,
    runtime: TrainingRuntime,
    rows: tuple[Sequence[Row], Sequence[Row]],
    roles: tuple[Codec, Rollouts, AsyncGrader],
) -> None:
    """Run and record the job's preflight; raise PreflightBlockedError when it blocks."""
    if spec.preflight == "off" or spec.resume_from is not None:
        return
    codec, rollouts, grader = roles
    plan = PreflightPlan(
        model=spec.model,
        seed=spec.seed,
        judge=uses_model(spec.grader),
        valid_rows=len(rows[1]),
    )
    report = await run_preflight(rows[0], codec, rollouts, grader, config, plan)
    runtime.add_result_file(spec.id, RESULT_FILENAME, json.dumps(report).encode())
    summary = {k: v for k, v in report.items() if k != "prompts"}
    level = EVENT_LEVELS[report["verdict"]]
    runtime.add_event(spec.id, event_message(report), level=level, data={"preflight": summary})
    if spec.preflight == "block" and report["verdict"] == "block":
        blocking = [f["message"] for f in report["findings"] if f["level"] == "block"]
        raise PreflightBlockedError(
            "The preflight blocked training (preflight='block'): " + " ".join(blocking)
        )
