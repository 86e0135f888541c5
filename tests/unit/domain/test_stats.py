"""Wilson intervals and Newcombe's paired-difference interval."""

import random

import pytest

from openrft.domain.stats import paired_difference_interval, wilson_interval


def test_wilson_interval_matches_published_values() -> None:
    half = wilson_interval(5, 10)
    assert (half.value, round(half.low, 4), round(half.high, 4)) == (0.5, 0.2366, 0.7634)
    none = wilson_interval(0, 10)
    assert (none.low, round(none.high, 4)) == (0.0, 0.2775)
    assert wilson_interval(0, 0).high == 1.0


def test_identical_outcomes_give_an_interval_around_zero() -> None:
    outcomes = [True, False] * 20
    estimate = paired_difference_interval(outcomes, outcomes)
    assert estimate.value == 0.0
    assert estimate.low < 0.0 < estimate.high
    assert not estimate.excludes_zero


def test_a_clear_paired_gain_excludes_zero_and_a_small_one_does_not() -> None:
    base = [False] * 50
    clear = paired_difference_interval([True] * 20 + [False] * 30, base)
    assert clear.value == pytest.approx(0.4)
    assert clear.low > 0.0 and clear.excludes_zero
    small = paired_difference_interval([True] * 1 + [False] * 49, base)
    assert small.low < 0.0 < small.high


def test_pairing_narrows_the_interval_when_outcomes_are_correlated() -> None:
    # Same marginals (60% vs 40%); paired with total overlap vs with none.
    correlated = paired_difference_interval([True] * 30 + [False] * 20, [True] * 20 + [False] * 30)
    anti = paired_difference_interval([True] * 30 + [False] * 20, [False] * 30 + [True] * 20)
    assert correlated.value == anti.value == pytest.approx(0.2)
    assert correlated.high - correlated.low < anti.high - anti.low


def test_paired_interval_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = random.Random(0)
    # Per-question joint outcome probabilities: both, tuned only, base only, neither.
    joint = [(True, True)] * 2 + [(True, False)] * 3 + [(False, True)] * 1 + [(False, False)] * 4
    true_difference = (3 - 1) / 10
    trials, covered = 2000, 0
    for _ in range(trials):
        draws = [rng.choice(joint) for _ in range(60)]
        estimate = paired_difference_interval([t for t, _ in draws], [b for _, b in draws])
        covered += estimate.low <= true_difference <= estimate.high
    assert 0.93 <= covered / trials <= 0.975


def test_paired_interval_rejects_unpaired_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference_interval([True], [True, False])
