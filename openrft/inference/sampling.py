"""Next-token sampling for a batch of rows with per-row temperature, top-p and RNG."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SampledTokens:
    """One decode step's choice for each row.

    tokens ``(B,)`` int64; logprobs ``(B,)`` float32, of the chosen token under
    ``softmax(logits / temperature)`` (temperature 0 → the plain softmax); top_ids / top_logprobs
    ``(B, k)`` under the same distribution, or None when k == 0.
    """

    tokens: torch.Tensor
    logprobs: torch.Tensor
    top_ids: torch.Tensor | None
    top_logprobs: torch.Tensor | None


def sample_tokens(
    logits: torch.Tensor,
    temperature: torch.Tensor,
    top_p: torch.Tensor,
    groups: list[tuple[torch.Generator | None, torch.Tensor]],
    top_k_logprobs: int = 0,
) -> SampledTokens:
    """Sample one token per row.

    logits ``(B, V)``; temperature, top_p ``(B,)`` float32. ``groups``: ``(generator, rows)``
    with rows ``(k,)`` int64, distinct and ascending, to sample with that RNG; every other row
    takes the argmax (greedy rows, and finished rows whose token is ignored).
    """
    logits = logits.float()
    scale = torch.where(temperature > 0, temperature, torch.ones_like(temperature))
    scaled = logits if bool((scale == 1.0).all()) else logits / scale[:, None]
    probs = torch.softmax(scaled, dim=-1)  # (B, V); one pass, no log_softmax
    tokens = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    sampled = torch.zeros_like(temperature, dtype=torch.bool)
    for generator, rows in groups:
        # Rows are distinct and ascending, so as many as the batch's means all of them.
        every_row = len(rows) == probs.shape[0]
        nucleus = _top_p_filter(
            probs if every_row else probs.index_select(0, rows),
            top_p if every_row else top_p.index_select(0, rows),
        )
        tokens[rows] = _inverse_cdf_sample(nucleus, generator)
        sampled[rows] = True
    if not bool(sampled.all()):
        rest = (~sampled).nonzero()[:, 0]
        tokens[rest] = logits.index_select(0, rest).argmax(dim=-1)
    chosen = probs.gather(1, tokens[:, None])[:, 0].log()
    top_ids = top_lps = None
    if top_k_logprobs > 0:
        top_probs, top_ids = probs.topk(top_k_logprobs, dim=-1)
        top_lps = top_probs.log()
    return SampledTokens(tokens, chosen, top_ids, top_lps)


def _inverse_cdf_sample(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One draw per row of unnormalized ``probs`` ``(k, V)`` → ``(k,)`` token ids.

    ``torch.multinomial`` costs ~100 ms for 64 × 49k on CPU; a cumsum and a binary search with
    one uniform number per row cost a few.
    """
    cdf = probs.cumsum(dim=-1)  # (k, V)
    u = torch.rand((probs.shape[0], 1), generator=generator, device=probs.device)
    tokens = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)[:, 0]
    return tokens.clamp_(max=probs.shape[-1] - 1)


def _top_p_filter(probs: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Zero the tail of each row outside its nucleus; probs ``(B, V)``, top_p ``(B,)``."""
    if bool((top_p >= 1.0).all()):
        return probs
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(mass_before > top_p[:, None], 0.0)
    return torch.zeros_like(probs).scatter_(1, order, sorted_probs)
