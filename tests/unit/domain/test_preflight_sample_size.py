"""How many prompts the preflight samples: the caller's ``max_prompts``, else the token budget's
share, within [MIN_PROMPTS, DEFAULT_MAX_PROMPTS]."""

from __future__ import annotations

from openrft.domain.preflight import (
    DEFAULT_MAX_PROMPTS,
    MIN_PROMPTS,
    TOKEN_BUDGET,
    sample_size,
)


def test_the_callers_max_prompts_wins() -> None:
    assert sample_size(40, group_size=16, max_tokens=2048) == 40


def test_the_demo_configuration_gets_the_prompts_that_fit_the_token_budget() -> None:
    # 8 samples x 160 tokens = 1,280 tokens a prompt at most: 12,288 // 1,280 = 9 prompts.
    assert TOKEN_BUDGET == 12_288
    assert sample_size(None, group_size=8, max_tokens=160) == 9


def test_the_budget_share_is_clamped() -> None:
    assert sample_size(None, group_size=2, max_tokens=16) == DEFAULT_MAX_PROMPTS
    assert sample_size(None, group_size=64, max_tokens=4096) == MIN_PROMPTS
