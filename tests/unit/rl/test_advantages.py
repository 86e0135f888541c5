import pytest
import torch

from openrft.rl import compute_advantages


def test_group_scaling_matches_hand_values() -> None:
    rewards = torch.tensor([1.0, 0.0, 3.0, 3.0])  # two groups of two
    adv, metrics = compute_advantages(rewards, group_size=2, scale_rewards="group")
    std = torch.tensor([1.0, 0.0]).std()  # sample std of [1, 0] = 0.7071
    expected = torch.tensor([0.5, -0.5, 0.0, 0.0]) / (std + 1e-4)
    expected[2:] = 0.0
    assert torch.allclose(adv, expected)
    assert metrics["frac_reward_zero_std"] == pytest.approx(0.5)
    assert metrics["reward_mean"] == pytest.approx(1.75)


def test_zero_variance_group_gets_zero_advantage_in_every_mode() -> None:
    rewards = torch.tensor([0.7, 0.7, 0.7, 0.0, 1.0, 0.5])
    for mode in ("group", "batch", "none"):
        adv, _ = compute_advantages(rewards, group_size=3, scale_rewards=mode)
        assert torch.equal(adv[:3], torch.zeros(3))


def test_batch_scaling_uses_batch_std() -> None:
    rewards = torch.tensor([0.0, 2.0, 4.0, 8.0])
    adv, _ = compute_advantages(rewards, group_size=2, scale_rewards="batch")
    expected = torch.tensor([-1.0, 1.0, -2.0, 2.0]) / (rewards.std() + 1e-4)
    assert torch.allclose(adv, expected)


def test_none_scaling_only_centres() -> None:
    rewards = torch.tensor([0.0, 2.0, 4.0, 8.0])
    adv, metrics = compute_advantages(rewards, group_size=2, scale_rewards="none")
    assert torch.allclose(adv, torch.tensor([-1.0, 1.0, -2.0, 2.0]))
    assert metrics["frac_reward_zero_std"] == 0.0


def test_rejects_bad_shapes_and_modes() -> None:
    with pytest.raises(ValueError):
        compute_advantages(torch.zeros(5), group_size=2)
    with pytest.raises(ValueError):
        compute_advantages(torch.zeros(4), group_size=2, scale_rewards="global")  # type: ignore[arg-type]
