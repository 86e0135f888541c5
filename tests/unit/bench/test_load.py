"""The load test's summaries: nearest-rank percentiles, per-operation counts, /health window."""

from __future__ import annotations

from bench.load import Sample, health_during, percentile, summarize


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([], 0.99) is None
    assert percentile([7.0], 0.99) == 7.0


def test_summarize_counts_statuses_per_operation() -> None:
    samples = [Sample("a", 0.010, 200), Sample("a", 0.030, 503), Sample("b", 0.002, 429)]
    samples.append(Sample("b", 0.004, 0))
    report = summarize(samples)
    assert report["a"] == {
        "count": 2,
        "status_4xx": 0,
        "status_5xx": 1,
        "connection_errors": 0,
        "p50_ms": 10.0,
        "p99_ms": 30.0,
    }
    assert (report["b"]["status_4xx"], report["b"]["connection_errors"]) == (1, 1)


def test_health_window_is_the_hostile_span() -> None:
    samples = [
        Sample("hostile.upload_100mb", 2.0, 200, start=10.0),
        Sample("hostile.template", 0.5, 400, start=10.5),
        Sample("health", 0.5, 200, start=9.0),  # before: not counted
        Sample("health", 0.020, 200, start=11.0),
        Sample("health", 0.040, 200, start=11.9),
    ]
    window = health_during(samples)
    assert window == {
        "health_p99_ms_during_hostile": 40.0,
        "health_probes_during_hostile": 2,
        "hostile_span_s": 2.0,
    }
