"""docs/grafana-dashboard.json charts only series that ``/metrics`` exposes."""

from __future__ import annotations

import json
import re

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from openrft.api.routes.metrics import (
    JOB_GAUGES,
    HttpMetrics,
    JobStatusCollector,
    RunningJobsCollector,
)
from openrft.services.jobs import LiveMetrics
from tests.conftest import REPO_ROOT


def exposed_series() -> set[str]:
    metrics = HttpMetrics()
    metrics.requests.labels("GET", "/v1/models", "200").inc()
    metrics.latency.labels("GET", "/v1/models").observe(0.1)
    every_key = {key: 1.0 for key, _ in JOB_GAUGES.values()}
    metrics.registry.register(JobStatusCollector(lambda: {"running": 1}))
    metrics.registry.register(
        RunningJobsCollector(lambda: [LiveMetrics("ftjob-1", "default", every_key)])
    )
    text = generate_latest(metrics.registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_every_series_the_dashboard_queries_is_exposed() -> None:
    dashboard = json.loads((REPO_ROOT / "docs" / "grafana-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bopenrft_[a-z_]+", target["expr"])
    }
    exposed = exposed_series()
    assert queried - exposed == set()
    assert {f"openrft_job_{k}" for k in ("step", "train_reward_mean", "grader_error_rate")} <= (
        queried
    )
    assert {name for name in exposed if name.startswith("openrft_job_")} <= queried
