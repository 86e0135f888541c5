"""The loss_type / scale_rewards values the API accepts are exactly the ones rl/ implements."""

from __future__ import annotations

from typing import get_args

import torch

from openrft.domain.hyperparameters import LOSS_TYPES, SCALE_REWARDS
from openrft.rl import LOSSES, compute_advantages
from openrft.rl.advantages import ScaleRewards


def test_allowed_loss_types_are_the_loss_registry() -> None:
    assert set(LOSS_TYPES) == set(LOSSES)


def test_allowed_scale_rewards_are_the_advantage_scalings() -> None:
    assert set(SCALE_REWARDS) == set(get_args(ScaleRewards))
    for mode in SCALE_REWARDS:
        compute_advantages(torch.tensor([0.0, 1.0]), group_size=2, scale_rewards=mode)  # type: ignore[arg-type]
