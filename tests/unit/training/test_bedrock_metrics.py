"""Bedrock's (verl's) critic metric names, computed over graded samples."""

from __future__ import annotations

import pytest
import torch

from openrft.training.bedrock_metrics import critic_metrics


def test_advantages_are_averaged_over_sampled_tokens_of_graded_samples() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.5, 9.0])
    advantages = torch.tensor([1.0, -1.0, 0.5, 7.0])
    graded = torch.tensor([True, True, True, False])
    out = critic_metrics(rewards, advantages, graded, [10, 30, 20, 40])
    assert out["critic_advantages_mean"] == pytest.approx((10 - 30 + 10) / 60)
    assert (out["critic_advantages_max"], out["critic_advantages_min"]) == (1.0, -1.0)
    assert out["critic_rewards_mean"] == pytest.approx(0.5)
    assert out["critic_score_max"] == 1.0 and out["critic_rewards_min"] == 0.0
    assert (out["response_length_max"], out["response_length_min"]) == (40.0, 10.0)


def test_nothing_graded_gives_no_critic_metrics() -> None:
    zeros = torch.zeros(2)
    assert critic_metrics(zeros, zeros, torch.tensor([False, False]), [3, 4]) == {}
