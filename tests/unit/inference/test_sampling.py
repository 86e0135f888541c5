from __future__ import annotations

import torch

from openrft.inference.sampling import sample_tokens


def draw(logits: list[float], rows: int, temperature: float, top_p: float = 1.0) -> torch.Tensor:
    batch = torch.tensor([logits]).repeat(rows, 1)
    generator = torch.Generator().manual_seed(0)
    groups = [(generator, torch.arange(rows))]
    temp, nucleus = torch.full((rows,), temperature), torch.full((rows,), top_p)
    return sample_tokens(batch, temp, nucleus, groups).tokens


def test_draw_frequencies_follow_softmax_over_temperature() -> None:
    logits = [2.0, 1.0, 0.0, -1.0]
    tokens = draw(logits, 40_000, temperature=0.5)
    expected = torch.softmax(torch.tensor(logits) / 0.5, dim=0)
    observed = torch.bincount(tokens, minlength=4).float() / len(tokens)
    assert torch.allclose(observed, expected, atol=0.01)


def test_top_p_keeps_only_the_nucleus() -> None:
    # probabilities ≈ 0.64, 0.24, 0.09, 0.03: top_p 0.8 keeps the first two
    tokens = draw([3.0, 2.0, 1.0, 0.0], 20_000, temperature=1.0, top_p=0.8)
    observed = torch.bincount(tokens, minlength=4).float() / len(tokens)
    assert observed[2:].sum() == 0
    assert abs(observed[0] - 0.64 / 0.88) < 0.02


def test_logprobs_are_of_the_scaled_distribution_and_greedy_rows_take_argmax() -> None:
    logits = torch.tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 1.0]])
    result = sample_tokens(logits, torch.tensor([2.0, 0.0]), torch.ones(2), [], 2)
    assert result.tokens.tolist() == [2, 0]
    expected = torch.log_softmax(logits / torch.tensor([[2.0], [1.0]]), dim=-1)
    assert torch.allclose(result.logprobs, expected[[0, 1], [2, 0]])
    assert result.top_ids is not None and result.top_ids.tolist() == [[2, 1], [0, 2]]
