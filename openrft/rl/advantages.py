"""Group-relative advantages (GRPO), with TRL's ``scale_rewards`` semantics."""

from __future__ import annotations

from typing import Literal

import torch

ScaleRewards = Literal["group", "batch", "none"]
STD_EPS = 1e-4  # TRL adds 1e-4 to the std before dividing


def _unbiased_std(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sample std (Bessel-corrected, like TRL's ``nanstd``); 0 when there is one element."""
    n = x.numel() if dim is None else x.shape[dim]
    if n < 2:
        return torch.zeros(()) if dim is None else torch.zeros(x.shape[:dim] + x.shape[dim + 1 :])
    return x.std(dim=dim, unbiased=True) if dim is not None else x.std(unbiased=True)


def compute_advantages(
    rewards: torch.Tensor, group_size: int, scale_rewards: ScaleRewards = "group"
) -> tuple[torch.Tensor, dict[str, float]]:
    """Advantage of each completion relative to the mean reward of its group.

    Args:
        rewards: (B*G,) float rewards, the G completions of one prompt contiguous.
        group_size: G, completions per prompt.
        scale_rewards: ``group`` divides by the group's std (+1e-4), ``batch`` by the whole
            batch's std (+1e-4), ``none`` leaves ``r - group mean``.

    Returns:
        advantages (B*G,) and metrics ``reward_mean``, ``reward_std`` (batch std),
        ``frac_reward_zero_std`` (fraction of completions whose scaling std is zero). A group
        whose rewards all tie gets zero advantage under every mode.
    """
    if rewards.ndim != 1 or rewards.numel() % group_size != 0:
        raise ValueError(f"rewards must be (B*G,) with G={group_size}, got {tuple(rewards.shape)}")
    rewards = rewards.float()
    grouped = rewards.view(-1, group_size)  # (B, G)
    group_mean = grouped.mean(dim=1).repeat_interleave(group_size)  # (B*G,)
    advantages = rewards - group_mean
    if scale_rewards == "batch":
        std = _unbiased_std(rewards).expand_as(rewards)
    elif scale_rewards in ("group", "none"):
        std = _unbiased_std(grouped, dim=1).repeat_interleave(group_size)
    else:
        raise ValueError(f"scale_rewards must be group, batch or none, got {scale_rewards!r}")
    if scale_rewards != "none":
        advantages = advantages / (std + STD_EPS)
    zero_std = torch.isclose(std, torch.zeros_like(std))
    metrics = {
        "reward_mean": rewards.mean().item(),
        "reward_std": _unbiased_std(rewards).item(),
        "frac_reward_zero_std": zero_std.float().mean().item(),
    }
    return advantages, metrics
