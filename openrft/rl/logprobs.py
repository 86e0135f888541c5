"""Log-probabilities and entropy of chosen tokens, computed only where they are needed.

The trainer passes the final hidden states at completion positions, never the logits of the
whole sequence: ``completion_logprobs`` applies the LM head chunk by chunk, so no (B, T, V) fp32
tensor ever exists. With a frozen LM head (LoRA) the gradient of each log-prob to its hidden
state is computed in the forward pass from the chunk's softmax and kept as (N, H): backward then
costs nothing over the vocabulary. A trained head (full fine-tune) recomputes each chunk's
logits in backward instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from openrft import dense

DEFAULT_CHUNK_TOKENS = 256


def selective_log_softmax(
    logits: torch.Tensor, index: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """log softmax(logits / temperature) gathered at ``index``.

    Args:
        logits: (N, V) unnormalised scores.
        index: (N,) token ids.
        temperature: > 0; the logits are divided by it, as TRL does.

    Returns:
        (N,) float32 log-probabilities.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    scaled = logits.float() / temperature
    chosen = scaled.gather(-1, index.unsqueeze(-1)).squeeze(-1)
    return chosen - torch.logsumexp(scaled, dim=-1)


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Shannon entropy in nats of softmax(logits / temperature): (N, V) -> (N,)."""
    logp = F.log_softmax(logits.float() / temperature, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def _chunk_logprobs_entropy(
    hidden: torch.Tensor,
    index: torch.Tensor,
    lm_head: Callable[[torch.Tensor], torch.Tensor],
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, H) hidden -> (n,) log-probs of ``index`` and (n,) entropies, from one LM-head pass."""
    logp_all = F.log_softmax(_scaled(lm_head(hidden).float(), temperature), dim=-1)  # (n, V)
    chosen = logp_all.gather(-1, index.unsqueeze(-1)).squeeze(-1)
    logp_all = logp_all.detach()
    return chosen, _entropy(logp_all.exp(), logp_all)


def _scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``; at temperature 1 the same tensor (one pass over (n, V) less)."""
    return logits if temperature == 1.0 else logits / temperature


def _entropy(probs: torch.Tensor, logp_all: torch.Tensor) -> torch.Tensor:
    """−Σ p log p per row, written into ``probs`` (no other (n, V) tensor is allocated)."""
    return probs.mul_(logp_all).sum(-1).neg_()


class _FrozenHeadLogprobs(torch.autograd.Function):
    """log softmax(h Wᵀ / T)[index] and entropy per row, for a frozen, bias-free head W (V, H).

    d logp / d h = (W[index] − softmax · W) / T is taken in the forward pass, chunk by chunk;
    the (N, H) result is all backward needs (one (n, V) softmax exists at a time)."""

    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        index: torch.Tensor,
        weight: torch.Tensor,
        temperature: float,
        chunk_tokens: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logps, entropies, grads = [], [], []
        for h, idx in zip(hidden.split(chunk_tokens), index.split(chunk_tokens), strict=True):
            logits = _scaled(dense.linear(h, weight).float(), temperature)  # (n, V)
            logp_all = F.log_softmax(logits, dim=-1)
            del logits
            probs = logp_all.exp()
            logps.append(logp_all.gather(-1, idx.unsqueeze(-1)).squeeze(-1))
            expected = dense.linear(probs.to(weight.dtype), weight.T)  # (n, H): E_softmax[W]
            entropies.append(_entropy(probs, logp_all))  # probs is spent after this
            grads.append(((weight[idx] - expected) / temperature).to(hidden.dtype))
        entropy = torch.cat(entropies)
        ctx.mark_non_differentiable(entropy)
        ctx.save_for_backward(torch.cat(grads))
        return torch.cat(logps), entropy

    @staticmethod
    def backward(
        ctx: Any, grad_logp: torch.Tensor, _grad_entropy: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        (grad_hidden,) = ctx.saved_tensors
        return grad_hidden * grad_logp.unsqueeze(-1).to(grad_hidden.dtype), None, None, None, None


def _frozen_weight(lm_head: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor | None:
    """The weight of a bias-free, frozen plain ``nn.Linear`` head; else None (a subclass, such as
    a quantized layer, may store its weight in a form only its own forward reads)."""
    if type(lm_head) is not torch.nn.Linear or lm_head.bias is not None:
        return None
    return None if lm_head.weight.requires_grad else lm_head.weight


def completion_logprobs(
    hidden: torch.Tensor,
    token_ids: torch.Tensor,
    lm_head: Callable[[torch.Tensor], torch.Tensor],
    *,
    temperature: float = 1.0,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs and entropy of the tokens that follow each hidden state.

    Args:
        hidden: (N, H) final hidden states, one per completion token (the state *before* it).
        token_ids: (N,) the completion tokens.
        lm_head: maps (n, H) -> (n, V) logits.
        temperature: sampling temperature; logits are divided by it.
        chunk_tokens: rows per LM-head chunk; bounds the (chunk, V) logits in memory.

    Returns:
        logprobs (N,) float32, with gradient to ``hidden`` and the LM head when grad is
        enabled, and entropy (N,) float32 in nats, without gradient.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    if hidden.shape[0] == 0:
        empty = hidden.new_zeros(0, dtype=torch.float32)
        return empty, empty
    needs_grad = torch.is_grad_enabled() and hidden.requires_grad
    frozen = _frozen_weight(lm_head)
    if needs_grad and frozen is not None:
        logp, entropy = _FrozenHeadLogprobs.apply(
            hidden, token_ids, frozen, temperature, chunk_tokens
        )
        return logp, entropy
    if not needs_grad and type(lm_head) is torch.nn.Linear:
        lm_head = functools.partial(dense.linear, weight=lm_head.weight, bias=lm_head.bias)
    logps: list[torch.Tensor] = []
    entropies: list[torch.Tensor] = []
    for h, idx in zip(hidden.split(chunk_tokens), token_ids.split(chunk_tokens), strict=True):
        if needs_grad:
            # Recompute this chunk's logits in backward instead of keeping (chunk, V) alive.
            lp, ent = checkpoint(
                _chunk_logprobs_entropy, h, idx, lm_head, temperature, use_reentrant=False
            )
        else:
            lp, ent = _chunk_logprobs_entropy(h, idx, lm_head, temperature)
        logps.append(lp)
        entropies.append(ent.detach())
    return torch.cat(logps), torch.cat(entropies)
