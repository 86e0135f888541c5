"""The learning workload's task (bench/brevity_task.py)."""

from __future__ import annotations

import pytest

from bench.brevity_task import TRAIN_TOPICS, VALID_TOPICS, brevity_reward, train_rows


def test_reward_falls_with_each_word_and_an_empty_reply_scores_zero() -> None:
    assert brevity_reward("") == 0.0
    assert brevity_reward("Bees.") == pytest.approx(1 - 1 / 40)
    assert brevity_reward("Bees make honey.") == pytest.approx(1 - 3 / 40)
    assert brevity_reward(" ".join(["word"] * 45)) == 0.0


def test_rows_cycle_through_training_topics_and_validation_is_held_out() -> None:
    rows = train_rows(steps=9, per_step=8)
    assert [r["topic"] for r in rows[:64]] == list(TRAIN_TOPICS)
    assert rows[64]["topic"] == TRAIN_TOPICS[0]
    assert not set(TRAIN_TOPICS) & set(VALID_TOPICS)
    assert rows[0]["messages"] == [
        {"role": "user", "content": "Tell me about photosynthesis in one sentence."}
    ]
