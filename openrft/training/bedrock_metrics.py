"""The metric names Bedrock RFT reports (verl's ``critic/...`` names with ``_`` for ``/``).

Bedrock's ``metrics`` events carry ``critic_rewards_mean``, ``critic_advantages_mean``,
``actor_*`` and ``response_length_mean`` (see docs/bedrock.md); notebooks plot them by name.
Computed over the graded samples of a step; advantages are averaged over the sampled tokens,
since every token of a completion carries its completion's advantage.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def critic_metrics(
    rewards: torch.Tensor, advantages: torch.Tensor, graded: torch.Tensor, lengths: Sequence[int]
) -> dict[str, float]:
    """``critic_{score,rewards,advantages}_{mean,max,min}`` and ``response_length_{max,min}``.

    rewards, advantages, graded: (B*G,); lengths: the sampled tokens of each completion.
    Empty when no sample was graded.
    """
    if not bool(graded.any()):
        return {}
    kept_rewards = rewards[graded].float()
    kept_advantages = advantages[graded].float()
    tokens = torch.tensor(lengths, dtype=torch.float32)[graded]
    weighted = (kept_advantages * tokens).sum() / tokens.sum().clamp(min=1)
    out = {}
    for name in ("score", "rewards"):  # no reward shaping here: the score is the reward
        out[f"critic_{name}_mean"] = kept_rewards.mean().item()
        out[f"critic_{name}_max"] = kept_rewards.max().item()
        out[f"critic_{name}_min"] = kept_rewards.min().item()
    out["critic_advantages_mean"] = weighted.item()
    out["critic_advantages_max"] = kept_advantages.max().item()
    out["critic_advantages_min"] = kept_advantages.min().item()
    all_lengths = torch.tensor(lengths, dtype=torch.float32)
    out["response_length_max"] = all_lengths.max().item()
    out["response_length_min"] = all_lengths.min().item()
    return out
