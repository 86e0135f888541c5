"""Our DPO loss equals TRL's ``DPOTrainer._compute_loss`` (``loss_type="sigmoid"``) on the
same summed log-probs, and its reward metrics equal TRL's.

TRL's method reads its configuration from ``self`` and the per-token log-probs from the model's
output; we call it unbound on a namespace holding exactly what it reads, with a model that
returns fixed log-probs and precomputed reference log-probs (``precompute_ref_logps``).
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from openrft.rl import dpo_loss
from tests.conftest import require_module

dpo_trainer = require_module("trl.trainer.dpo_trainer")


class _SingleProcess:
    device = torch.device("cpu")

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def gather_for_metrics(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _trl(beta: float, token_logp: torch.Tensor, mask: torch.Tensor, ref: torch.Tensor):
    """TRL's loss and metrics; ``token_logp``/``mask``: (2B, T) chosen rows first."""
    width = token_logp.shape[1]
    outputs = SimpleNamespace(
        log_probs=token_logp * mask,
        entropy=torch.zeros_like(token_logp),
        mean_logits=torch.zeros_like(token_logp),
        is_top1=torch.zeros_like(mask, dtype=torch.bool),
    )
    fake = SimpleNamespace(
        model=SimpleNamespace(training=True),
        accelerator=_SingleProcess(),
        aux_loss_enabled=False,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=["sigmoid"],
        loss_weights=[1.0],
        beta=beta,
        use_weighting=False,
        _metrics={"train": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )
    # One prompt token, then the completion (TRL shifts the completion mask by one).
    completion_mask = torch.cat([torch.zeros(mask.shape[0], 1), mask], dim=1).long()
    pairs = mask.shape[0] // 2
    inputs = {
        "input_ids": torch.ones(mask.shape[0], width + 1, dtype=torch.long),
        "attention_mask": torch.ones(mask.shape[0], width + 1, dtype=torch.long),
        "completion_mask": completion_mask,
        "ref_chosen_logps": ref[:pairs],
        "ref_rejected_logps": ref[pairs:],
    }
    loss = dpo_trainer.DPOTrainer._compute_loss(fake, lambda **_: outputs, inputs, False)
    return loss.item(), {k: v[0] for k, v in fake._metrics["train"].items()}


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_dpo_loss_and_reward_metrics_match_trl(beta: float) -> None:
    generator = torch.Generator().manual_seed(int(beta * 10))
    pairs, width = 3, 5
    token_logp = -torch.rand(2 * pairs, width, generator=generator) * 3
    mask = (torch.rand(2 * pairs, width, generator=generator) > 0.3).float()
    mask[:, 0] = 1.0
    ref = -torch.rand(2 * pairs, generator=generator) * 8
    trl_loss, trl_metrics = _trl(beta, token_logp, mask, ref)

    summed = (token_logp * mask).sum(-1)
    losses, metrics = dpo_loss(summed[:pairs], summed[pairs:], ref[:pairs], ref[pairs:], beta)
    assert losses.mean().item() == pytest.approx(trl_loss, rel=1e-5)
    for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"):
        assert metrics[key] / pairs == pytest.approx(trl_metrics[key], rel=1e-5, abs=1e-7), key


def test_dpo_loss_gradient_raises_the_preferred_answer() -> None:
    chosen = torch.tensor([-5.0], requires_grad=True)
    rejected = torch.tensor([-4.0], requires_grad=True)
    losses, metrics = dpo_loss(chosen, rejected, torch.tensor([-5.0]), torch.tensor([-4.0]), 0.1)
    assert losses.item() == pytest.approx(torch.log(torch.tensor(2.0)).item())
    assert metrics["rewards/accuracies"] == 0.0
    losses.sum().backward()
    assert chosen.grad is not None and rejected.grad is not None
    assert chosen.grad.item() < 0 < rejected.grad.item()  # descent raises chosen, lowers rejected
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(chosen, rejected, chosen, rejected, 0.0)
