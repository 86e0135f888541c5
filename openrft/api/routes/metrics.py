"""``GET /metrics``: Prometheus text — HTTP requests by route and status, jobs by status."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from openrft.domain.jobs import JobStatus

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
