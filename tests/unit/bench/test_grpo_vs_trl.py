"""The reward-curve agreement check of bench/grpo_vs_trl.py."""

from __future__ import annotations

import pytest

from bench.grpo_vs_trl import reward_agreement


def test_curves_that_differ_by_noise_agree() -> None:
    ours = [0.00, 0.02, 0.01, 0.05, 0.03, 0.04, 0.06, 0.05, 0.08, 0.07]
    theirs = [0.01, 0.01, 0.02, 0.04, 0.04, 0.03, 0.07, 0.06, 0.07, 0.08]
    result = reward_agreement(ours, theirs)
    assert result["agree_within_noise"] is True
    assert result["mean_difference"] == pytest.approx(-0.002, abs=1e-9)  # (0.41 - 0.43) / 10
    low, high = result["ci95"]
    assert low < 0 < high


def test_a_consistent_gap_does_not_agree() -> None:
    theirs = [0.01, 0.01, 0.02, 0.04, 0.04, 0.03, 0.07, 0.06, 0.07, 0.08]
    ours = [r + 0.1 + 0.01 * (i % 2) for i, r in enumerate(theirs)]
    result = reward_agreement(ours, theirs)
    assert result["agree_within_noise"] is False
    assert result["ci95"][0] > 0.09


def test_one_step_gives_no_verdict() -> None:
    assert reward_agreement([0.1], [0.2])["agree_within_noise"] is None
