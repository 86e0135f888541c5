"""The DPO loss (Rafailov et al. 2023, TRL's ``loss_type="sigmoid"``) as a pure tensor function.

Each pair's implicit rewards are ``beta * (log pi(y|x) - log pi_ref(y|x))`` over the whole
completion (summed token log-probs); the loss is ``-log sigmoid(reward_chosen -
reward_rejected)``. Metric names are TRL's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-pair losses (B,) and the batch's summed metrics.

    Args:
        policy_chosen, policy_rejected: (B,) summed log-probs of the preferred and the
            non-preferred completion under the trained model (with gradient).
        ref_chosen, ref_rejected: (B,) the same under the reference model.
        beta: > 0; larger keeps the model closer to the reference.

    Returns:
        losses (B,) and sums over the batch: ``rewards/chosen``, ``rewards/rejected``,
        ``rewards/margins``, ``rewards/accuracies`` (pairs whose chosen reward is higher).
    """
    if beta <= 0:
        raise ValueError("beta must be positive")
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    margins = chosen - rejected
    losses = -F.logsigmoid(margins)
    detached = margins.detach()
    metrics = {
        "rewards/chosen": float(chosen.detach().sum()),
        "rewards/rejected": float(rejected.detach().sum()),
        "rewards/margins": float(detached.sum()),
        "rewards/accuracies": float((detached > 0).float().sum()),
    }
    return losses, metrics
