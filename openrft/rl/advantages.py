"""Group-relative advantages (GRPO), with TRL's ``scale_rewards`` semantics.

Samples the grader could not grade (``graded`` False) are left out: they get zero advantage and
take no part in any mean or std, so each group is normalised over its graded samples only.
"""

from __future__ import annotations

from typing import Literal

import torch

ScaleRewards = Literal["group", "batch", "none"]
STD_EPS = 1e-4  # TRL adds 1e-4 to the std before dividing


def _masked_std(x: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Sample std (Bessel-corrected, like TRL's ``nanstd``) over the last dim where ``mask``;
    0 where fewer than two elements count."""
    count = mask.sum(dim=-1)
    squares = ((x - mean.unsqueeze(-1)) ** 2 * mask).sum(dim=-1)
    variance = squares / (count - 1).clamp(min=1)
    return torch.where(count >= 2, variance.sqrt(), torch.zeros_like(variance))


def compute_advantages(
    rewards: torch.Tensor,
    group_size: int,
    scale_rewards: ScaleRewards = "group",
    graded: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Advantage of each completion relative to the mean reward of its group.

    Args:
        rewards: (B*G,) float rewards, the G completions of one prompt contiguous.
        group_size: G, completions per prompt.
        scale_rewards: ``group`` divides by the group's std (+1e-4), ``batch`` by the whole
            batch's std (+1e-4), ``none`` leaves ``r - group mean``.
        graded: (B*G,) bool, False for a sample whose grade is an error (its reward is
            ignored). None: every sample was graded.

    Returns:
        advantages (B*G,) (0 for ungraded samples) and metrics over the graded samples:
        ``reward_mean``, ``reward_std`` (batch std), ``frac_reward_zero_std`` (fraction of
        groups with a graded sample whose scaling std is zero: nothing to learn from them) and
        ``graded_fraction``. A group whose graded rewards all tie gets zero advantage under
        every mode; so does a group with a single graded sample.
    """
    if rewards.ndim != 1 or rewards.numel() % group_size != 0:
        raise ValueError(f"rewards must be (B*G,) with G={group_size}, got {tuple(rewards.shape)}")
    if scale_rewards not in ("group", "batch", "none"):
        raise ValueError(f"scale_rewards must be group, batch or none, got {scale_rewards!r}")
    if graded is None:
        graded = torch.ones_like(rewards, dtype=torch.bool)
    if graded.shape != rewards.shape:
        raise ValueError(f"graded must have the shape of rewards, got {tuple(graded.shape)}")
    mask = graded.float()
    rewards = rewards.float() * mask  # an error's placeholder reward never enters a sum
    grouped, grouped_mask = rewards.view(-1, group_size), mask.view(-1, group_size)  # (B, G)
    counts = grouped_mask.sum(dim=1)  # (B,)
    group_mean = grouped.sum(dim=1) / counts.clamp(min=1)  # (B,)
    group_std = _masked_std(grouped, grouped_mask, group_mean)  # (B,)
    batch_mean = rewards.sum() / mask.sum().clamp(min=1)
    batch_std = _masked_std(rewards, mask, batch_mean)  # ()
    advantages = (rewards - group_mean.repeat_interleave(group_size)) * mask
    if scale_rewards == "batch":
        advantages = advantages / (batch_std + STD_EPS)
    elif scale_rewards == "group":
        advantages = advantages / (group_std.repeat_interleave(group_size) + STD_EPS)
    # A tied group's advantages are exactly zero under every mode (no rounding residue).
    tied = torch.isclose(group_std, torch.zeros_like(group_std))  # (B,)
    advantages = advantages * (~tied).float().repeat_interleave(group_size)
    present = counts > 0
    metrics = {
        "reward_mean": batch_mean.item(),
        "reward_std": batch_std.item(),
        "frac_reward_zero_std": (tied & present).float().sum().item() / max(int(present.sum()), 1),
        "graded_fraction": mask.mean().item(),
    }
    return advantages, metrics
