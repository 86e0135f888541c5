"""How a step's prompts (or grading requests) are dealt to workers: contiguous, near-equal."""

from __future__ import annotations

from openrft.training.ray_workers import shares


def test_prompts_are_split_contiguously_in_near_equal_shares() -> None:
    assert shares(5, 2) == [slice(0, 3), slice(3, 5)]
    assert shares(4, 2) == [slice(0, 2), slice(2, 4)]
    parts = shares(7, 3)
    assert [p.stop - p.start for p in parts] == [3, 2, 2]
    assert [i for p in parts for i in range(7)[p]] == list(range(7))


def test_fewer_prompts_than_workers_leaves_the_rest_idle() -> None:
    assert shares(1, 3) == [slice(0, 1)]
    assert shares(0, 2) == []
