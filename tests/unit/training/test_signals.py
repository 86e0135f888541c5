from __future__ import annotations

from collections import Counter

import pytest
import torch

from openrft.training.grading import GradedBatch
from openrft.training.signals import monitor_metrics, repetition_rate


def test_repetition_rate_counts_repeated_4grams() -> None:
    assert repetition_rate([1, 2, 3, 4, 5, 6, 7]) == 0.0
    # "#### 7\n" as 4 tokens repeated 5 times: 17 4-grams, of which 4 are distinct.
    assert repetition_rate([9, 8, 7, 6] * 5) == pytest.approx(1 - 4 / 17)
    assert repetition_rate([1, 2, 3]) == 0.0  # shorter than two 4-grams


def batch(rewards: list[float], graded: list[bool]) -> GradedBatch:
    return GradedBatch(torch.tensor(rewards), torch.tensor(graded), errors=Counter(), metrics={})


def test_monitor_metrics_pair_samples_both_graders_graded() -> None:
    train = batch([1.0, 0.1, 0.1, 0.1, 0.0, 0.1, 0.1, 0.0], [True] * 7 + [False])
    monitor = batch([1.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 0.5], [True, True, False] + [True] * 5)
    metrics = monitor_metrics(train, monitor, group_size=4)
    # Prompt 1 pairs samples 0, 1, 3: gaps 0, 0.1, 0 → 0.0333; prompt 2 pairs 4, 5, 6:
    # gaps 0, 0.1, 0 → 0.0333 (sample 7: training grader erred).
    assert metrics["monitor/reward_gap_mean"] == pytest.approx(0.1 / 3)
    assert metrics["monitor/reward_gap_se"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["monitor/reward_mean"] == pytest.approx((1.0 + 0.0 + 0.1 + 0 + 0 + 0.1) / 6)
    # Per-prompt monitor means 1.1 / 3 and 0.1 / 3: their stdev is |difference| / sqrt(2),
    # over sqrt(2) prompts.
    assert metrics["monitor/reward_se"] == pytest.approx((1.0 / 3) / 2)
    assert metrics["monitor/graded_samples"] == 6
    assert metrics["monitor/error_rate"] == pytest.approx(1 / 8)
