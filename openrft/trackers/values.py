"""What a job sends to an experiment tracker: its config, numeric step metrics, sample rows."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from openrft.domain.jobs import JobSpec
from openrft.domain.samples import RolloutSample

SAMPLE_COLUMNS = (
    "step",
    "split",
    "item",
    "sample",
    "prompt",
    "completion",
    "reward",
    "scores",
    "advantage",
    "finish_reason",
    "completion_tokens",
)


def run_config(spec: JobSpec) -> dict[str, Any]:
    """The job's settings as a tracker's run config."""
    return {
        "job_id": spec.id,
        "model": spec.model,
        "method": spec.method,
        "seed": spec.seed,
        "grader_type": spec.grader.get("type"),
        "grader_name": spec.grader.get("name"),
        "hyperparameters": dict(spec.hyperparameters),
    }


def numeric_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a step's metrics (trackers chart numbers only)."""
    return {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def sample_rows(samples: Sequence[RolloutSample]) -> list[list[Any]]:
    """One row per sample, in ``SAMPLE_COLUMNS`` order; the prompt's last message as text."""
    return [
        [
            s.step,
            s.split,
            s.item,
            s.sample,
            _prompt_text(s.prompt),
            s.completion,
            s.reward,
            json.dumps(s.scores, sort_keys=True),
            s.advantage,
            s.finish_reason,
            s.completion_tokens,
        ]
        for s in samples
    ]


def _prompt_text(prompt: list[dict[str, Any]]) -> str:
    if not prompt:
        return ""
    content = prompt[-1].get("content")
    return content if isinstance(content, str) else json.dumps(content)


def by_step_and_split(
    samples: Sequence[RolloutSample],
) -> list[tuple[tuple[int, str], list[RolloutSample]]]:
    """``samples`` grouped by (step, split), in step order (a tracker logs one table each)."""
    groups: dict[tuple[int, str], list[RolloutSample]] = {}
    for sample in samples:
        groups.setdefault((sample.step, sample.split), []).append(sample)
    return sorted(groups.items())
