"""The reward-curve agreement, time-to-target and run pooling of bench/grpo_vs_trl.py."""

from __future__ import annotations

import numpy as np
import pytest

from bench.grpo_vs_trl import compare, reward_agreement, time_to_target

STEPS = 10


def learning_run(rng: np.random.Generator, gain: float = 0.0) -> list[float]:
    """A training-reward curve like the learning workload's: a rising trend, a drift that
    persists (a run that gets ahead stays ahead) and each step's sampling noise."""
    trend = np.linspace(0.45, 0.6, STEPS)
    drift = np.cumsum(rng.normal(0.0, 0.01, STEPS))
    return list(trend + drift + rng.normal(0.0, 0.02, STEPS) + gain)


def test_runs_that_differ_by_noise_agree() -> None:
    ours = [[0.50, 0.52, 0.55], [0.49, 0.53, 0.56], [0.51, 0.51, 0.57]]
    theirs = [[0.50, 0.53, 0.54], [0.48, 0.52, 0.58]]
    result = reward_agreement(ours, theirs)
    assert result["run_means"]["openrft"] == pytest.approx([0.5233, 0.5267, 0.53], abs=1e-4)
    assert result["mean_difference"] == pytest.approx(0.5267 - 0.5250, abs=1e-4)
    low, high = result["ci95"]
    assert low < 0 < high
    assert result["agree_within_noise"] is True


def test_a_consistent_gap_between_runs_does_not_agree() -> None:
    theirs = [[0.50, 0.53, 0.54], [0.48, 0.52, 0.58]]
    ours = [[r + 0.1 + 0.005 * (i + 1) * k for k, r in enumerate(theirs[i % 2])] for i in range(3)]
    result = reward_agreement(ours, theirs)
    assert result["agree_within_noise"] is False
    assert result["ci95"][0] > 0.05


def test_curves_are_compared_over_the_steps_every_run_has() -> None:
    result = reward_agreement([[0.1, 0.2, 0.9], [0.1, 0.3]], [[0.2, 0.35, 0.9]])
    assert result["run_means"] == {"openrft": [0.15, 0.2], "trl": [0.275]}
    assert result["mean_difference"] == pytest.approx(0.175 - 0.275)


def test_two_runs_give_no_verdict_but_the_paired_interval_over_steps() -> None:
    result = reward_agreement([[0.1, 0.3, 0.2]], [[0.2, 0.2, 0.2]])
    assert result["agree_within_noise"] is None
    assert result["paired_over_steps"]["mean_difference"] == pytest.approx(0.0)


def test_the_verdict_holds_its_error_rate_where_an_interval_over_steps_does_not() -> None:
    # Runs of one process: the verdict is wrong in about 5% of trials, as a 95% interval should
    # be; the paired interval over one pair's steps is wrong far more often.
    rng = np.random.default_rng(0)
    trials = 400
    flagged = paired_flagged = 0
    for _ in range(trials):
        ours = [learning_run(rng) for _ in range(3)]
        theirs = [learning_run(rng) for _ in range(2)]
        result = reward_agreement(ours, theirs)
        flagged += not result["agree_within_noise"]
        low, high = result["paired_over_steps"]["ci95"]
        paired_flagged += not low <= 0 <= high
    assert flagged / trials < 0.09
    assert paired_flagged / trials > 0.2


def test_the_verdict_sees_a_real_difference() -> None:
    # A gain of 0.1 is about 5 times the spread of a run's mean here (0.021); 3 + 2 runs see it.
    rng = np.random.default_rng(1)
    trials = 200
    flagged = 0
    for _ in range(trials):
        ours = [learning_run(rng, gain=0.1) for _ in range(3)]
        theirs = [learning_run(rng) for _ in range(2)]
        flagged += not reward_agreement(ours, theirs)["agree_within_noise"]
    assert flagged / trials > 0.85


def test_time_to_target_sums_training_steps_until_the_first_evaluation_at_target() -> None:
    # valid_rewards[0] is the base model; valid_rewards[k] follows step k.
    ours = [{"step_times_s": [10.0, 11.0, 12.0], "valid_rewards": [0.30, 0.35, 0.41, 0.38]}]
    theirs = [{"step_times_s": [30.0, 31.0, 32.0], "valid_rewards": [0.30, 0.32, 0.36, 0.39]}]
    result = time_to_target(ours, theirs, target_gain=0.1)
    assert result["target"] == pytest.approx(0.4)
    assert result["seconds_to_target"] == {"openrft": 21.0, "trl": None}
    assert result["openrft_over_trl_time_to_target"] is None
    theirs[0]["valid_rewards"][3] = 0.45
    result = time_to_target(ours, theirs, target_gain=0.1)
    assert result["seconds_to_target"] == {"openrft": 21.0, "trl": 93.0}
    assert result["openrft_over_trl_time_to_target"] == pytest.approx(21.0 / 93.0, abs=1e-3)


def test_time_to_target_compares_each_sides_median_run() -> None:
    def run(first_at_target: int | None) -> dict[str, list[float]]:
        rewards = [0.3] + [
            0.5 if first_at_target and k >= first_at_target else 0.3 for k in (1, 2, 3)
        ]
        return {"step_times_s": [10.0, 10.0, 10.0], "valid_rewards": rewards}

    ours = [run(3), run(1), run(2)]
    theirs = [run(None), run(1)]
    result = time_to_target(ours, theirs, target_gain=0.1)
    assert result["seconds_to_target_per_run"] == {
        "openrft": [30.0, 10.0, 20.0],
        "trl": [None, 10.0],
    }
    # TRL's median run never reached the target: half its runs did not.
    assert result["seconds_to_target"] == {"openrft": 20.0, "trl": None}
    theirs.append(run(3))
    result = time_to_target(ours, theirs, target_gain=0.1)
    assert result["seconds_to_target"] == {"openrft": 20.0, "trl": 30.0}


def test_step_time_is_the_median_over_every_step_of_every_run() -> None:
    def run(seed: int, steps: list[float], rss: float) -> dict[str, object]:
        split = {"generate_s": steps[0] / 2, "forward_backward_s": steps[0] / 2}
        return {
            "config": {"seed": seed, "torch_threads": 2},
            "steps": len(steps),
            "step_times_s": steps,
            "median_step_s": float(np.median(steps)),
            "median_split_s": split,
            "peak_rss_mib": rss,
            "rollout_tokens_per_s": [100.0],
            "reward_means": [0.5, 0.6 + seed / 100],
        }

    ours = [run(0, [10.0, 30.0], 900.0), run(1, [11.0, 12.0], 1000.0), run(2, [13.0, 50.0], 950.0)]
    theirs = [run(0, [40.0, 42.0], 2000.0), run(1, [44.0, 46.0], 1900.0)]
    result = compare(ours, theirs, target_gain=0.1)
    assert result["seeds"] == {"openrft": [0, 1, 2], "trl": [0, 1]}
    assert result["median_step_s"] == {"openrft": 12.5, "trl": 43.0}
    assert result["openrft_over_trl_step_time"] == pytest.approx(12.5 / 43.0, abs=1e-3)
    assert result["peak_rss_mib"] == {"openrft": 1000.0, "trl": 2000.0}
    assert result["median_split_s"]["openrft"] == {"generate_s": 5.5, "forward_backward_s": 5.5}
    assert "validation" not in result
