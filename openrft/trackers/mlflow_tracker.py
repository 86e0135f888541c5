"""A job's MLflow run (openrft's extension of ``integrations``): params, every step's metrics,
and each step's samples as a JSON artifact.

The tracking URI is the server's setting (``OPENRFT_MLFLOW_TRACKING_URI``; default a SQLite
store in the data directory), never the tenant's. The run is tagged with the job id, so a
resumed job continues its run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
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

JOB_TAG = "openrft.job_id"
MAX_PARAM_CHARS = 6000
PARAMS_PER_BATCH = 100
STATUS = {"succeeded": "FINISHED", "cancelled": "KILLED", "failed": "FAILED"}
_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_key(name: str) -> str:
    """``name`` with the characters MLflow refuses in a metric key replaced by '_'."""
    return _UNSAFE_KEY.sub("_", name)


def flat_params(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → ``{"hyperparameters.batch_size": "4", ...}`` (MLflow params are flat)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_params(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out[metric_key(name)] = text[:MAX_PARAM_CHARS]
    return out


class MlflowTracker:
    def __init__(
        self,
        settings: dict[str, Any],
        spec: JobSpec,
        tracking_uri: str,
        artifact_location: str | None,
    ):
        """``settings``: the job's normalized ``mlflow`` object; ``artifact_location``: where a
        new experiment keeps artifacts (None: the tracking server decides)."""
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        self.metric, self.param = Metric, Param
        self.client = MlflowClient(tracking_uri=tracking_uri)
        experiment_id = self._experiment(settings["experiment_name"], artifact_location)
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{JOB_TAG}` = '{spec.id}'", max_results=1
        )
        if found:
            self.run_id = found[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            run = self.client.create_run(
                experiment_id,
                run_name=settings.get("run_name") or spec.id,
                tags={**settings.get("tags", {}), JOB_TAG: spec.id, "openrft.model": spec.model},
            )
            self.run_id = run.info.run_id
            self._log_params(flat_params(run_config(spec)))
        self.experiment_name = settings["experiment_name"]

    def _experiment(self, name: str, artifact_location: str | None) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        try:
            return str(self.client.create_experiment(name, artifact_location=artifact_location))
        except Exception:  # another worker created it meanwhile
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return str(experiment.experiment_id)

    def _log_params(self, params: dict[str, str]) -> None:
        items = [self.param(k, v) for k, v in params.items()]
        for start in range(0, len(items), PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + PARAMS_PER_BATCH])

    @property
    def description(self) -> str:
        return f"MLflow run {self.run_id} in experiment {self.experiment_name}"

    def on_samples(self, samples: Sequence[RolloutSample]) -> None:
        for (step, split), kept in by_step_and_split(samples):
            table = {"columns": list(SAMPLE_COLUMNS), "data": sample_rows(kept)}
            self.client.log_dict(self.run_id, table, f"samples/{split}-step-{step:06d}.json")

    def on_step(self, step: int, metrics: dict[str, Any]) -> None:
        now = int(time.time() * 1000)
        batch = [
            self.metric(metric_key(k), v, now, step) for k, v in numeric_metrics(metrics).items()
        ]
        self.client.log_batch(self.run_id, metrics=batch)

    def on_finish(self, outcome: str) -> None:
        self.client.set_tag(self.run_id, "openrft.outcome", outcome)
        if outcome in STATUS:  # a paused job's run stays RUNNING until it resumes
            self.client.set_terminated(self.run_id, status=STATUS[outcome])
