"""GRPO and DPO math as pure tensor functions: advantages, log-probs, losses. No I/O."""

from openrft.rl.advantages import compute_advantages
from openrft.rl.logprobs import completion_logprobs, entropy_from_logits, selective_log_softmax
from openrft.rl.losses import (
    LOSSES,
    LossNorm,
    PolicyLossInputs,
    clipped_surrogate,
    k3_kl,
    policy_loss,
    register_loss,
    truncated_importance_weights,
)
from openrft.rl.preference import dpo_loss

__all__ = [
    "LOSSES",
    "LossNorm",
    "PolicyLossInputs",
    "clipped_surrogate",
    "completion_logprobs",
    "compute_advantages",
    "dpo_loss",
    "entropy_from_logits",
    "k3_kl",
    "policy_loss",
    "register_loss",
    "selective_log_softmax",
    "truncated_importance_weights",
]
