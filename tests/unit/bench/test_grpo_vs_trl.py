"""The reward-curve agreement and time-to-target of bench/grpo_vs_trl.py."""

from __future__ import annotations

import pytest

from bench.grpo_vs_trl import reward_agreement, time_to_target


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


def test_time_to_target_sums_training_steps_until_the_first_evaluation_at_target() -> None:
    # valid_rewards[0] is the base model; valid_rewards[k] follows step k.
    ours = {"step_times_s": [10.0, 11.0, 12.0], "valid_rewards": [0.30, 0.35, 0.41, 0.38]}
    theirs = {"step_times_s": [30.0, 31.0, 32.0], "valid_rewards": [0.30, 0.32, 0.36, 0.39]}
    result = time_to_target(ours, theirs, target_gain=0.1)
    assert result["target"] == pytest.approx(0.4)
    assert result["seconds_to_target"] == {"openrft": 21.0, "trl": None}
    assert result["openrft_over_trl_time_to_target"] is None
    theirs["valid_rewards"][3] = 0.45
    result = time_to_target(ours, theirs, target_gain=0.1)
    assert result["seconds_to_target"] == {"openrft": 21.0, "trl": 93.0}
    assert result["openrft_over_trl_time_to_target"] == pytest.approx(21.0 / 93.0, abs=1e-3)
