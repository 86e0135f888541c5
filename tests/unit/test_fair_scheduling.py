"""claim_order: least-running project first, oldest first among equals, per-project cap."""

from __future__ import annotations

from openrft.executors.fair import claim_order

QUEUED = [("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("b2", "b")]


def test_least_running_project_goes_first_then_age() -> None:
    # Global FIFO would start a2: project a already holds a slot.
    assert claim_order(QUEUED, {"a": 1}, None) == ["b1", "c1", "b2", "a2", "a3"]
    assert claim_order(QUEUED, {}, None) == ["a2", "a3", "b1", "c1", "b2"]


def test_a_project_at_its_cap_waits() -> None:
    assert claim_order(QUEUED, {"a": 1, "b": 2}, 1) == ["c1"]
    assert claim_order([], {"a": 1}, 1) == []
