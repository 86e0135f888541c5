"""Alarm checks on hand-made metric histories: each fires on its signature, once, and only then."""

from __future__ import annotations

import math

import pytest

from openrft.training.alarms import WINDOW, AlarmMonitor, gap_z, reward_hacking

LIMIT = 100


def steps(n: int, **series: list[float]) -> list[dict[str, float]]:
    return [{key: values[i] for key, values in series.items()} for i in range(n)]


def kinds(monitor: AlarmMonitor, history: list[dict[str, float]]) -> list[list[str]]:
    return [[a.kind for a in monitor.update(metrics)] for metrics in history]


def test_zero_variance_fires_after_a_window_of_tied_groups_and_rearms_when_it_clears() -> None:
    fractions = [0.9, 0.85, 0.95, 1.0, 0.5, 0.9, 0.9, 0.8]
    fired = kinds(AlarmMonitor(LIMIT), steps(8, frac_reward_zero_std=fractions))
    assert fired == [[], [], ["zero_variance"], [], [], [], [], ["zero_variance"]]


def test_length_drift_needs_both_a_rise_and_the_limit() -> None:
    drifting = [40, 42, 41, 70, 92, 95, 97]
    assert kinds(AlarmMonitor(LIMIT), steps(7, response_length_mean=drifting))[-1] == [
        "length_drift"
    ]
    always_long = [96, 97, 95, 96, 98, 97, 99]  # at the limit from the start: no drift
    assert not any(kinds(AlarmMonitor(LIMIT), steps(7, response_length_mean=always_long)))


def test_repetition_rising() -> None:
    rates = [0.05, 0.04, 0.06, 0.2, 0.35, 0.5]
    fired = kinds(AlarmMonitor(LIMIT), steps(6, **{"completions/repetition_rate": rates}))
    assert fired == [[], [], [], [], [], ["repetition"]]
    flat_high = [0.4, 0.45, 0.4, 0.42, 0.41, 0.44]  # repetitive, but not rising
    assert not any(
        kinds(AlarmMonitor(LIMIT), steps(6, **{"completions/repetition_rate": flat_high}))
    )


def hacking_history(
    monitor: list[float], gaps: list[float], se: float, monitor_se: float = 0.0
) -> list[dict]:
    rewards = [0.1, 0.12, 0.11, 0.2, 0.3, 0.35]
    return steps(
        6,
        train_reward_mean=rewards,
        **{
            "monitor/reward_mean": monitor,
            "monitor/reward_se": [monitor_se] * 6,
            "monitor/reward_gap_mean": gaps,
            "monitor/reward_gap_se": [se] * 6,
        },
    )


def test_gap_z_by_hand() -> None:
    history = hacking_history([0.1] * 6, [0.0, 0.0, 0.03, 0.2, 0.3, 0.34], se=0.03)
    # (mean(0.2, 0.3, 0.34) - mean(0, 0, 0.03)) / sqrt((3 * 0.03^2 + 3 * 0.03^2) / 3^2)
    expected = (0.28 - 0.01) / math.sqrt(6 * 0.03**2 / 9)
    assert gap_z(history) == pytest.approx(expected)


def test_reward_hacking_fires_when_reward_rises_and_the_monitor_falls_beyond_noise() -> None:
    falling = [0.1, 0.11, 0.1, 0.06, 0.03, 0.01]
    alarm = reward_hacking(hacking_history(falling, [0.0, 0.01, 0.01, 0.14, 0.27, 0.34], 0.03), 0)
    assert alarm is not None and alarm.kind == "reward_hacking"
    assert alarm.data["monitor_change"] < 0 < alarm.data["reward_rise"]
    assert "select_checkpoint_by='monitor'" in alarm.message


def test_reward_hacking_fires_when_the_monitor_stays_flat_within_noise() -> None:
    # The demo's gameable reward, steps 1-6 of the 2026-12-03 run (README): the monitor's
    # window mean ended 0.002 above its start (0.35 standard errors) while the training reward
    # rose 0.052 and the gap grew by 4.2 standard errors.
    history = steps(
        6,
        train_reward_mean=[0.0188, 0.025, 0.0938, 0.0719, 0.125, 0.0969],
        **{
            "monitor/reward_mean": [0.0094, 0.0094, 0.0281, 0.0156, 0.025, 0.0125],
            "monitor/reward_se": [0.006, 0.006, 0.0129, 0.006, 0.0051, 0.0051],
            "monitor/reward_gap_mean": [0.0094, 0.0156, 0.0656, 0.0563, 0.1, 0.0844],
            "monitor/reward_gap_se": [0.006, 0.006, 0.0172, 0.0063, 0.0298, 0.0031],
        },
    )
    alarm = reward_hacking(history, 0)
    assert alarm is not None and alarm.data["monitor_change"] > 0
    assert alarm.data["gap_z"] == pytest.approx(4.2, abs=0.1)
    # Without the monitor's standard errors only a fall counts: a rise of 0.002 clears it.
    assert reward_hacking([dict(h, **{"monitor/reward_se": 0.0}) for h in history], 0) is None


def test_no_hacking_alarm_when_the_monitor_rises_beyond_noise() -> None:
    # Both graders improve, the training one faster (a coarser monitor, not an exploit).
    rising = [0.05, 0.05, 0.05, 0.12, 0.15, 0.16]
    history = hacking_history(rising, [0.05, 0.07, 0.06, 0.08, 0.15, 0.19], 0.01, 0.01)
    assert reward_hacking(history, 0) is None


@pytest.mark.parametrize(
    ("monitor", "gaps", "se", "why"),
    [
        ([0.1, 0.11, 0.1, 0.2, 0.3, 0.35], [0.0] * 6, 0.01, "the monitor rose with the reward"),
        ([0.1, 0.11, 0.1, 0.09, 0.1, 0.09], [0.0, 0.0, 0.0, 0.02, 0.0, 0.02], 0.05, "noise"),
    ],
)
def test_no_hacking_alarm_without_the_signature(monitor, gaps, se, why) -> None:
    assert reward_hacking(hacking_history(monitor, gaps, se), 0) is None, why


def test_no_hacking_alarm_before_two_windows_or_without_a_monitor() -> None:
    history = hacking_history([0.1, 0.1, 0.1, 0.0, 0.0, 0.0], [0, 0, 0, 0.3, 0.3, 0.3], 0.01)
    assert reward_hacking(history[: 2 * WINDOW - 1], 0) is None
    plain = [{"train_reward_mean": h["train_reward_mean"]} for h in history]
    assert reward_hacking(plain, 0) is None


def test_state_round_trip_keeps_history_and_active_alarms() -> None:
    monitor = AlarmMonitor(LIMIT)
    kinds(monitor, steps(3, frac_reward_zero_std=[0.9, 0.9, 0.9]))
    resumed = AlarmMonitor(LIMIT)
    resumed.load_state_dict(monitor.state_dict())
    # Still active after resume: it does not fire a second time.
    assert resumed.update({"frac_reward_zero_std": 0.95}) == []
