"""``GET /metrics``: Prometheus text — HTTP requests by route and status, jobs by status, and
each running job's latest step metrics (labels ``job`` and ``project``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from openrft.domain.jobs import JobStatus
from openrft.services.jobs import LiveMetrics

router = APIRouter(tags=["metrics"])


class JobStatusCollector(Collector):
    """Counts jobs per status at scrape time (from the database, so every replica agrees)."""

    def __init__(self, count_by_status: Callable[[], dict[str, int]]):
        self.count_by_status = count_by_status

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("openrft_jobs", "Fine-tuning jobs by status.", labels=["status"])
        counts = self.count_by_status()
        for status in JobStatus:
            gauge.add_metric([status.value], counts.get(status.value, 0))
        yield gauge


# gauge name → (step metric it reports, help text)
JOB_GAUGES = {
    "openrft_job_step": ("step", "Latest finished training step of a running job."),
    "openrft_job_total_steps": ("total_steps", "Training steps a running job will take."),
    "openrft_job_train_reward_mean": ("train_reward_mean", "Mean reward of the latest step."),
    "openrft_job_valid_reward_mean": ("valid_reward_mean", "Latest validation mean reward."),
    "openrft_job_rollout_tokens_per_second": (
        "rollout_tokens_per_s",
        "Completion tokens generated per second in the latest step's rollouts.",
    ),
    "openrft_job_grader_error_rate": (
        "grader_error_rate",
        "Fraction of the latest step's samples the grader could not grade.",
    ),
    "openrft_job_grade_seconds": ("timing/grade_s", "Time the latest step spent grading."),
    "openrft_job_step_seconds": ("step_time_s", "Wall time of the latest step."),
    "openrft_job_train_loss": ("train_loss", "Training loss of the latest step (SFT, DPO)."),
    "openrft_job_valid_loss": ("valid_loss", "Latest validation loss (SFT, DPO)."),
}


class RunningJobsCollector(Collector):
    """Each running job's latest step metrics as gauges, read from its metrics events at scrape
    time (the worker is another process; the database is what every replica shares)."""

    def __init__(self, live_metrics: Callable[[], list[LiveMetrics]]):
        self.live_metrics = live_metrics

    def collect(self) -> Iterator[Metric]:
        live = self.live_metrics()
        for name, (key, help_text) in JOB_GAUGES.items():
            gauge = GaugeMetricFamily(name, help_text, labels=["job", "project"])
            for job in live:
                if key in job.metrics:
                    gauge.add_metric([job.job_id, job.project], job.metrics[key])
            yield gauge


class HttpMetrics:
    """One registry per app, so several apps in one process never clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "openrft_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "openrft_http_request_duration_seconds",
            "HTTP request latency (seconds) by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )

    def install(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def _observe(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            start = time.perf_counter()
            response = await call_next(request)
            route = request.scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.requests.labels(request.method, template, str(response.status_code)).inc()
            self.latency.labels(request.method, template).observe(time.perf_counter() - start)
            return response


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
