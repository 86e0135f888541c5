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


def test_ungraded_samples_are_left_out_of_their_group() -> None:
    # Group 1: [1, x, 0, 1] with x ungraded → normalised over [1, 0, 1]: mean 2/3,
    # sample std sqrt(((1/3)^2 * 2 + (2/3)^2) / 2) = sqrt(1/3).
    # Group 2: [x, 0.5, x, 0.5] → the two graded samples tie: zero advantage.
    rewards = torch.tensor([1.0, 9.0, 0.0, 1.0, 9.0, 0.5, 9.0, 0.5])
    graded = torch.tensor([True, False, True, True, False, True, False, True])
    adv, metrics = compute_advantages(rewards, group_size=4, scale_rewards="group", graded=graded)
    std = (1 / 3) ** 0.5 + 1e-4
    expected = torch.tensor([1 / 3 / std, 0.0, -2 / 3 / std, 1 / 3 / std, 0, 0, 0, 0])
    assert torch.allclose(adv, expected, atol=1e-6)
    assert metrics["reward_mean"] == pytest.approx((1 + 0 + 1 + 0.5 + 0.5) / 5)
    assert metrics["graded_fraction"] == pytest.approx(5 / 8)
    assert metrics["frac_reward_zero_std"] == pytest.approx(0.5)


def test_ungraded_samples_leave_batch_statistics() -> None:
    rewards = torch.tensor([0.0, 2.0, 100.0, 4.0, 8.0, -100.0])
    graded = torch.tensor([True, True, False, True, True, False])
    adv, metrics = compute_advantages(rewards, group_size=3, scale_rewards="batch", graded=graded)
    kept = torch.tensor([0.0, 2.0, 4.0, 8.0])
    expected = torch.tensor([-1.0, 1.0, 0.0, -2.0, 2.0, 0.0]) / (kept.std() + 1e-4)
    assert torch.allclose(adv, expected)
    assert metrics["reward_std"] == pytest.approx(kept.std().item())


def test_group_with_one_or_no_graded_sample_has_nothing_to_learn() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.3, 0.6])
    graded = torch.tensor([True, False, False, False])
    adv, metrics = compute_advantages(rewards, group_size=2, scale_rewards="none", graded=graded)
    assert torch.equal(adv, torch.zeros(4))
    assert metrics["frac_reward_zero_std"] == 1.0  # only the group with a graded sample counts
    assert metrics["reward_mean"] == 1.0


def test_all_graded_mask_matches_no_mask() -> None:
    rewards = torch.tensor([0.1, 0.9, 0.4, 0.0, 1.0, 0.7])
    for mode in ("group", "batch", "none"):
        plain, _ = compute_advantages(rewards, group_size=3, scale_rewards=mode)
        masked, _ = compute_advantages(
            rewards, 3, scale_rewards=mode, graded=torch.ones(6, dtype=torch.bool)
        )
        assert torch.allclose(plain, masked)
