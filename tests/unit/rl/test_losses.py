import math

import pytest
import torch

from openrft.rl import (
    LOSSES,
    LossNorm,
    PolicyLossInputs,
    clipped_surrogate,
    k3_kl,
    policy_loss,
    truncated_importance_weights,
)


def _norm(mask: torch.Tensor, max_len: int = 4) -> LossNorm:
    tokens = int(mask.sum())
    return LossNorm(mask.shape[0], tokens, tokens, max_len)


def _loss(inputs: PolicyLossInputs, loss_type: str, beta: float = 0.0) -> torch.Tensor:
    norm = _norm(inputs.mask)
    loss, _ = policy_loss(
        inputs, norm, loss_type=loss_type, epsilon_low=0.2, epsilon_high=0.2, beta=beta
    )
    return loss


def test_clipping_engages_beyond_one_plus_epsilon() -> None:
    old = torch.zeros(1, 4)
    logp = torch.log(torch.tensor([[1.1, 1.3, 0.7, 0.9]])).requires_grad_()
    per_token, low, high = clipped_surrogate(logp, old, torch.tensor([1.0]), 0.2, 0.2)
    assert torch.allclose(per_token, -torch.tensor([[1.1, 1.2, 0.7, 0.9]]))
    per_token.sum().backward()
    # Clipped above 1.2 with A > 0: no gradient there; unclipped: d(-r)/dlogp = -r.
    assert torch.allclose(logp.grad, -torch.tensor([[1.1, 0.0, 0.7, 0.9]]))
    assert high.tolist() == [[False, True, False, False]]
    assert not low.any()


def test_low_clip_with_negative_advantage_and_asymmetric_epsilon() -> None:
    old = torch.zeros(1, 3)
    logp = torch.log(torch.tensor([[0.75, 0.85, 1.35]]))
    per_token, low, high = clipped_surrogate(logp, old, torch.tensor([-2.0]), 0.2, 0.28)
    # A < 0: -min(rA, clip(r)A) = 2 * max(r, clip(r)); clip to [0.8, 1.28].
    assert torch.allclose(per_token, torch.tensor([[1.6, 1.7, 2.7]]))
    assert low.tolist() == [[True, False, False]]
    assert not high.any()  # high side only counts when A > 0


def test_zero_advantage_gives_zero_loss_and_zero_gradient() -> None:
    logp = torch.randn(3, 5).requires_grad_()
    inputs = PolicyLossInputs(logp, logp.detach() - 0.1, torch.zeros(3), torch.ones(3, 5))
    for loss_type in LOSSES:
        logp.grad = None
        loss = _loss(inputs, loss_type)
        loss.backward()
        assert loss.item() == 0.0
        assert torch.equal(logp.grad, torch.zeros(3, 5))


def test_padding_does_not_change_the_loss() -> None:
    torch.manual_seed(0)
    logp = torch.randn(2, 3)
    old = logp + 0.05 * torch.randn(2, 3)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    adv = torch.tensor([0.5, -1.0])
    pad_logp = torch.cat([logp, torch.full((2, 4), 7.0)], dim=1)
    pad_old = torch.cat([old, torch.full((2, 4), -9.0)], dim=1)
    pad_mask = torch.cat([mask, torch.zeros(2, 4)], dim=1)
    garbage_logp = logp.clone()
    garbage_logp[0, 2] = 123.0  # a padded slot inside T
    for loss_type in LOSSES:
        base = _loss(PolicyLossInputs(logp, old, adv, mask), loss_type)
        padded = _loss(PolicyLossInputs(pad_logp, pad_old, adv, pad_mask), loss_type)
        garbage = _loss(PolicyLossInputs(garbage_logp, old, adv, mask), loss_type)
        assert padded.item() == pytest.approx(base.item())
        assert garbage.item() == pytest.approx(base.item())


def test_aggregations_differ_as_defined() -> None:
    # ratio 1 everywhere, so per-token loss = -A. Seq 0 has 1 token (A=1), seq 1 has 3 (A=2).
    logp = torch.zeros(2, 3)
    mask = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    adv = torch.tensor([1.0, 2.0])
    inputs = PolicyLossInputs(logp, logp, adv, mask)
    norm = LossNorm(num_sequences=2, num_tokens=4, local_tokens=2, max_completion_length=5)
    losses = {
        name: policy_loss(inputs, norm, loss_type=name, epsilon_low=0.2, epsilon_high=0.2)[0].item()
        for name in ("grpo", "dr_grpo", "dapo", "bnpo")
    }
    assert losses["grpo"] == pytest.approx(-(1 + 2) / 2)  # mean of per-sequence means
    assert losses["dr_grpo"] == pytest.approx(-(1 + 6) / (2 * 5))  # sum / (B * L_max)
    assert losses["dapo"] == pytest.approx(-(1 + 6) / 4)  # sum / global tokens
    assert losses["bnpo"] == pytest.approx(-(1 + 6) / 2)  # sum / local tokens


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo", "bnpo"])
def test_micro_batch_split_does_not_change_the_gradient(loss_type: str) -> None:
    torch.manual_seed(1)
    logp = torch.randn(4, 6).requires_grad_()
    old = logp.detach() + 0.1 * torch.randn(4, 6)
    mask = (torch.rand(4, 6) > 0.3).float()
    mask[:, 0] = 1.0
    adv = torch.randn(4)
    norm = _norm(mask, max_len=6)
    kwargs = {"loss_type": loss_type, "epsilon_low": 0.2, "epsilon_high": 0.28}
    whole, _ = policy_loss(PolicyLossInputs(logp, old, adv, mask), norm, **kwargs)
    whole.backward()
    grad_whole = logp.grad.clone()
    logp.grad = None
    total = torch.zeros(())
    for rows in (slice(0, 1), slice(1, 4)):
        part = PolicyLossInputs(logp[rows], old[rows], adv[rows], mask[rows])
        loss, _ = policy_loss(part, norm, **kwargs)
        loss.backward()
        total = total + loss.detach()
    assert total.item() == pytest.approx(whole.item(), abs=1e-6)
    assert torch.allclose(logp.grad, grad_whole, atol=1e-6)


def test_k3_kl_hand_values() -> None:
    logp = torch.tensor([math.log(0.5), math.log(0.2)])
    ref = torch.tensor([math.log(0.5), math.log(0.4)])
    kl = k3_kl(logp, ref)
    assert kl[0].item() == pytest.approx(0.0)
    assert kl[1].item() == pytest.approx(2.0 - math.log(2.0) - 1.0)


def test_beta_adds_kl_and_reports_it() -> None:
    logp = torch.zeros(1, 2)
    ref = torch.log(torch.tensor([[2.0, 1.0]]))
    inputs = PolicyLossInputs(logp, logp, torch.zeros(1), torch.ones(1, 2), ref_logp=ref)
    loss, metrics = policy_loss(
        inputs, _norm(inputs.mask), loss_type="dapo", epsilon_low=0.2, epsilon_high=0.2, beta=0.5
    )
    kl0 = 2.0 - math.log(2.0) - 1.0
    assert loss.item() == pytest.approx(0.5 * kl0 / 2)
    assert metrics["kl_sum"] == pytest.approx(kl0)
    with pytest.raises(ValueError):
        policy_loss(
            PolicyLossInputs(logp, logp, torch.zeros(1), torch.ones(1, 2)),
            _norm(inputs.mask),
            loss_type="dapo",
            epsilon_low=0.2,
            epsilon_high=0.2,
            beta=0.5,
        )


def test_truncated_importance_weights_cap_and_gap() -> None:
    trainer = torch.log(torch.tensor([[0.5, 0.9, 0.1]]))
    sampling = torch.log(torch.tensor([[0.1, 0.9, 0.2]]))
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    weights, metrics = truncated_importance_weights(trainer, sampling, mask, cap=3.0)
    assert torch.allclose(weights, torch.tensor([[3.0, 1.0, 1.0]]))  # 5x capped at 3; pad -> 1
    assert metrics["logp_gap_sum"] == pytest.approx(math.log(5.0))
    assert metrics["logp_gap_max"] == pytest.approx(math.log(5.0))


def test_unknown_loss_type() -> None:
    inputs = PolicyLossInputs(torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1), torch.ones(1, 1))
    with pytest.raises(ValueError, match="unknown loss_type"):
        policy_loss(inputs, _norm(inputs.mask), loss_type="ppo", epsilon_low=0.2, epsilon_high=0.2)
