"""GRPO policy loss: clipped surrogate, k3 KL, truncated importance sampling, aggregation.

Follows TRL 1.16 ``GRPOTrainer._compute_loss`` (trl/trainer/grpo_trainer.py). Every per-token
tensor is (B, T): B completions right-padded to T tokens, with ``mask`` (B, T) 1 at real tokens.
The aggregations take their normalisers from ``LossNorm`` (counts over the whole optimizer-step
batch), so summing the micro-batch losses gives the same gradient however the batch is split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

LossAggregator = Callable[[torch.Tensor, torch.Tensor, "LossNorm"], torch.Tensor]
LOSSES: dict[str, LossAggregator] = {}


@dataclass(frozen=True)
class LossNorm:
    """Normalisers of one optimizer step.

    num_sequences: completions in the whole step batch (B_global).
    num_tokens: active completion tokens in the whole step batch (TRL's num_items_in_batch).
    local_tokens: active tokens in this process's batch (bnpo); equals num_tokens on one process.
    max_completion_length: the sampling limit (dr_grpo's constant length).
    """

    num_sequences: int
    num_tokens: int
    local_tokens: int
    max_completion_length: int


def register_loss(name: str) -> Callable[[LossAggregator], LossAggregator]:
    """Register a token-loss aggregation under ``name`` (the ``loss_type`` hyperparameter)."""

    def decorate(fn: LossAggregator) -> LossAggregator:
        LOSSES[name] = fn
        return fn

    return decorate


@register_loss("grpo")
def grpo_aggregate(per_token: torch.Tensor, mask: torch.Tensor, norm: LossNorm) -> torch.Tensor:
    """Mean over each sequence's tokens, then mean over the step's sequences."""
    per_seq = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
    return per_seq.sum() / max(norm.num_sequences, 1)


@register_loss("dr_grpo")
def dr_grpo_aggregate(per_token: torch.Tensor, mask: torch.Tensor, norm: LossNorm) -> torch.Tensor:
    """Sum over all tokens / (B_global x max_completion_length): no length bias."""
    return (per_token * mask).sum() / max(norm.num_sequences * norm.max_completion_length, 1)


@register_loss("dapo")
def dapo_aggregate(per_token: torch.Tensor, mask: torch.Tensor, norm: LossNorm) -> torch.Tensor:
    """Sum over all tokens / active tokens in the whole global step batch."""
    return (per_token * mask).sum() / max(norm.num_tokens, 1)


@register_loss("bnpo")
def bnpo_aggregate(per_token: torch.Tensor, mask: torch.Tensor, norm: LossNorm) -> torch.Tensor:
    """Sum over all tokens / active tokens in this process's batch."""
    return (per_token * mask).sum() / max(norm.local_tokens, 1)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(policy || ref) per token: e^(r-p) - (r-p) - 1 >= 0, (B, T)."""
    diff = ref_logp - logp
    return torch.exp(diff) - diff - 1


def truncated_importance_weights(
    trainer_logp: torch.Tensor, sampling_logp: torch.Tensor, mask: torch.Tensor, cap: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """Token-level truncated IS weights min(pi_train / pi_sample, C) (TRL token_truncate, verl).

    Args:
        trainer_logp: (B, T) trainer log-probs of the sampled tokens (no gradient).
        sampling_logp: (B, T) log-probs recorded by the generation engine.
        mask: (B, T) 1 at real tokens.
        cap: C, the upper bound of the weight.

    Returns:
        weights (B, T) (1 at padding) and sums over active tokens: ``logp_gap_sum``
        (|train - sample|), ``logp_gap_max``, ``is_ratio_sum``.
    """
    diff = (trainer_logp.detach() - sampling_logp) * mask
    ratio = torch.exp(diff)
    weights = torch.clamp(ratio, max=cap)
    gap = diff.abs()
    metrics = {
        "logp_gap_sum": gap.sum().item(),
        "logp_gap_max": gap.max().item() if gap.numel() else 0.0,
        "is_ratio_sum": (ratio * mask).sum().item(),
    }
    return weights, metrics


@dataclass(frozen=True)
class PolicyLossInputs:
    """Per-token tensors of one micro-batch, all (B, T) except ``advantages`` (B,)."""

    logp: torch.Tensor  # current policy, with gradient
    old_logp: torch.Tensor  # policy that the ratio is taken against (no gradient)
    advantages: torch.Tensor  # (B,)
    mask: torch.Tensor
    ref_logp: torch.Tensor | None = None  # reference policy, needed when beta > 0
    is_weights: torch.Tensor | None = None  # truncated importance sampling weights


def clipped_surrogate(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    epsilon_low: float,
    epsilon_high: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO clipped objective per token, negated: -min(r A, clip(r, 1-el, 1+eh) A).

    Returns per-token loss (B, T) and the boolean (B, T) masks of tokens clipped at the low
    side (r < 1-el and A < 0) and at the high side (r > 1+eh and A > 0).
    """
    adv = advantages.unsqueeze(-1) if advantages.dim() == 1 else advantages
    ratio = torch.exp(logp - old_logp)
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    per_token = -torch.min(ratio * adv, clipped * adv)
    low = (ratio < 1 - epsilon_low) & (adv < 0)
    high = (ratio > 1 + epsilon_high) & (adv > 0)
    return per_token, low, high


def policy_loss(
    inputs: PolicyLossInputs,
    norm: LossNorm,
    *,
    loss_type: str,
    epsilon_low: float,
    epsilon_high: float,
    beta: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """GRPO loss of one micro-batch, scaled so micro-batch losses sum to the step's loss.

    Returns the scalar loss and token sums over active tokens (``pg_loss`` is the loss value
    itself): ``clip_low_sum``, ``clip_high_sum``, ``clip_region_sum``, ``kl_sum``, ``tokens``.
    """
    aggregate = LOSSES.get(loss_type)
    if aggregate is None:
        raise ValueError(f"unknown loss_type {loss_type!r}; known: {sorted(LOSSES)}")
    mask = inputs.mask.to(inputs.logp.dtype)
    per_token, low, high = clipped_surrogate(
        inputs.logp, inputs.old_logp, inputs.advantages, epsilon_low, epsilon_high
    )
    if inputs.is_weights is not None:
        per_token = per_token * inputs.is_weights
    kl_sum = 0.0
    if beta != 0.0:
        if inputs.ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp")
        kl = k3_kl(inputs.logp, inputs.ref_logp)
        per_token = per_token + beta * kl
        kl_sum = (kl.detach() * mask).sum().item()
    loss = aggregate(per_token, mask, norm)
    active = mask.bool()
    metrics = {
        "pg_loss": loss.item(),
        "clip_low_sum": (low & active).sum().item(),
        "clip_high_sum": (high & active).sum().item(),
        "clip_region_sum": ((low | high) & active).sum().item(),
        "kl_sum": kl_sum,
        "tokens": mask.sum().item(),
    }
    return loss, metrics
