"""The before/after comparison, checked against scipy's own intervals."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from openrft.domain.report import ItemOutcome, compare


def outcome(item: int, base: list[float], tuned: list[float]) -> ItemOutcome:
    return ItemOutcome(item, [{"role": "user", "content": f"q{item}"}], base, tuned, "b", "t")


def test_continuous_rewards_get_t_intervals_equal_to_scipys() -> None:
    rng = random.Random(3)
    items = [
        outcome(i, [rng.random(), rng.random()], [rng.random() + 0.2, rng.random()])
        for i in range(25)
    ]
    report = compare(items)
    base = [(a + b) / 2 for o in items for a, b in [o.base_rewards]]
    tuned = [(a + b) / 2 for o in items for a, b in [o.tuned_rewards]]
    assert report["interval_method"] == "student_t"
    assert report["n_items"] == 25 and report["samples_per_item"] == 2
    for side, values in (("base", base), ("tuned", tuned)):
        expected = stats.ttest_1samp(values, 0.0).confidence_interval(0.95)
        assert report[side]["reward_mean"] == pytest.approx(sum(values) / 25)
        assert report[side]["ci95"] == pytest.approx([expected.low, expected.high])
    paired = stats.ttest_rel(tuned, base).confidence_interval(0.95)
    assert report["difference"]["ci95"] == pytest.approx([paired.low, paired.high])
    assert report["difference"]["reward_mean"] == pytest.approx((sum(tuned) - sum(base)) / 25)
    wins = sum(t > b for t, b in zip(tuned, base, strict=True))
    assert (report["wins"], report["losses"], report["ties"]) == (wins, 25 - wins, 0)


def test_pass_fail_items_get_wilson_and_newcombe() -> None:
    # 12 items: both pass 3, only tuned passes 5, only base passes 1, neither 3.
    pairs = [(1.0, 1.0)] * 3 + [(0.0, 1.0)] * 5 + [(1.0, 0.0)] * 1 + [(0.0, 0.0)] * 3
    report = compare([outcome(i, [b], [t]) for i, (b, t) in enumerate(pairs)])
    assert report["interval_method"] == "wilson_newcombe"
    for side, passed in (("base", 4), ("tuned", 8)):
        ci = stats.binomtest(passed, 12).proportion_ci(0.95, method="wilson")
        assert report[side]["ci95"] == pytest.approx([ci.low, ci.high])
    assert report["difference"]["reward_mean"] == pytest.approx(4 / 12)
    # Newcombe (1998) method 10 by hand: a=3, b=5, c=1, d=3, n=12.
    z = stats.norm.ppf(0.975)
    lo1, hi1 = stats.binomtest(8, 12).proportion_ci(method="wilson")
    lo2, hi2 = stats.binomtest(4, 12).proportion_ci(method="wilson")
    p1, p2 = 8 / 12, 4 / 12
    phi = max(3 * 3 - 5 * 1 - 12 / 2, 0) / (8 * 4 * 4 * 8) ** 0.5
    low = p1 - p2 - ((p1 - lo1) ** 2 - 2 * phi * (p1 - lo1) * (hi2 - p2) + (hi2 - p2) ** 2) ** 0.5
    high = p1 - p2 + ((hi1 - p1) ** 2 - 2 * phi * (hi1 - p1) * (p2 - lo2) + (p2 - lo2) ** 2) ** 0.5
    assert z == pytest.approx(1.959963984540054)
    assert report["difference"]["ci95"] == pytest.approx([low, high])
    assert (report["wins"], report["losses"], report["ties"]) == (5, 1, 6)


def test_most_changed_lists_the_largest_changes_first_and_never_ties() -> None:
    changes = [0.0, 0.5, -0.9, 0.1, 0.0, -0.3, 0.7, 0.2]
    items = [outcome(i, [0.5], [0.5 + c]) for i, c in enumerate(changes)]
    listed = compare(items)["most_changed"]
    assert [row["item"] for row in listed] == [2, 6, 1, 5, 7]
    assert listed[0]["change"] == pytest.approx(-0.9)
    assert listed[0]["prompt"] == [{"role": "user", "content": "q2"}]


def test_a_single_item_has_no_t_interval_and_no_items_is_an_error() -> None:
    report = compare([outcome(0, [0.2], [0.4])])
    assert report["base"]["ci95"] is None and report["difference"]["ci95"] is None
    assert report["difference"]["excludes_zero"] is False
    with pytest.raises(ValueError, match="at least one item"):
        compare([])
