"""A job's Weights & Biases run: config, every step's metrics and a samples table per step.

The run id is the job id (as OpenAI's integration echoes it), so a resumed job continues its
run. ``WANDB_MODE``, ``WANDB_API_KEY`` and ``WANDB_DIR`` of the server's environment apply.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openrft.domain.jobs import JobSpec
from openrft.domain.samples import RolloutSample
from openrft.trackers.values import (
    SAMPLE_COLUMNS,
    by_step_and_split,
    numeric_metrics,
    run_config,
    sample_rows,
)

MAX_TAG_CHARS = 64


def default_tags(spec: JobSpec) -> list[str]:
    """What OpenAI adds ("openai/finetune", base model, job id), under openrft's name."""
    tags = ["openrft/finetune", f"openrft/{spec.model}", f"openrft/{spec.id}"]
    return [tag[:MAX_TAG_CHARS] for tag in tags]


class WandbTracker:
    def __init__(self, settings: dict[str, Any], spec: JobSpec, directory: Path):
        """``settings``: the job's normalized ``wandb`` object; ``directory``: where the run's
        files go unless ``WANDB_DIR`` says otherwise."""
        import wandb

        self.wandb = wandb
        if "WANDB_DIR" not in os.environ:
            directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=settings["project"],
            entity=settings.get("entity"),
            name=settings.get("name") or spec.id,
            id=spec.id,
            resume="allow",
            tags=[*settings.get("tags", []), *default_tags(spec)],
            config=run_config(spec),
            dir=None if "WANDB_DIR" in os.environ else str(directory),
            settings=wandb.Settings(console="off", silent=True, disable_git=True),
        )

    @property
    def description(self) -> str:
        return f"W&B run {self.run.id} in project {self.run.project}"

    def on_samples(self, samples: Sequence[RolloutSample]) -> None:
        for (step, split), kept in by_step_and_split(samples):
            table = self.wandb.Table(columns=list(SAMPLE_COLUMNS), data=sample_rows(kept))
            self.run.log({f"samples/{split}": table}, step=step)

    def on_step(self, step: int, metrics: dict[str, Any]) -> None:
        self.run.log(numeric_metrics(metrics), step=step)

    def on_finish(self, outcome: str) -> None:
        self.run.summary["outcome"] = outcome
        self.run.finish(exit_code=1 if outcome == "failed" else 0)
