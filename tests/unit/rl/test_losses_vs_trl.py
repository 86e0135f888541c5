"""Our loss equals TRL's ``GRPOTrainer._compute_loss`` on identical inputs.

TRL's method reads its configuration from ``self``; we call it unbound on a namespace holding
exactly the attributes it reads, with the policy forward replaced by fixed log-probs.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from openrft.rl import LossNorm, PolicyLossInputs, policy_loss
from tests.conftest import require_module

grpo_trainer = require_module("trl.trainer.grpo_trainer")


class _SingleProcess:
    num_processes = 1

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def gather_for_metrics(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def reduce(self, x: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
        return x


def _trl_loss(loss_type: str, beta: float, logp: torch.Tensor, batch: dict[str, Any]) -> float:
    fake = SimpleNamespace(
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=beta,
        loss_type=loss_type,
        epsilon_low=0.2,
        epsilon_high=0.28,
        args=SimpleNamespace(delta=None, use_bias_correction_kl=False, steps_per_generation=1),
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1,
        max_completion_length=batch["completion_ids"].shape[1] + 2,
        accelerator=_SingleProcess(),
        _entropy_bonus_enabled=False,
        aux_loss_enabled=False,
        _metrics={"train": defaultdict(list)},
        _get_per_token_logps_and_entropies=lambda *a, **k: (logp, torch.zeros_like(logp), None),
    )
    return grpo_trainer.GRPOTrainer._compute_loss(fake, None, batch).item()


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo", "bnpo"])
@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_loss_equals_trl(loss_type: str, beta: float) -> None:
    torch.manual_seed(3)
    b, t = 4, 5
    logp = -torch.rand(b, t) * 3
    old = logp + 0.3 * torch.randn(b, t)  # ratios well beyond 1 +- 0.28: clipping engages
    ref = logp + 0.2 * torch.randn(b, t)
    mask = torch.ones(b, t)
    mask[0, 3:] = 0
    mask[2, 1:] = 0
    adv = torch.randn(b)
    batch = {
        "prompt_ids": torch.ones(b, 2, dtype=torch.long),
        "prompt_mask": torch.ones(b, 2, dtype=torch.long),
        "completion_ids": torch.ones(b, t, dtype=torch.long),
        "completion_mask": mask.long(),
        "advantages": adv,
        "old_per_token_logps": old,
        "ref_per_token_logps": ref,
        "num_items_in_batch": mask.sum(),
    }
    expected = _trl_loss(loss_type, beta, logp, batch)
    tokens = int(mask.sum())
    norm = LossNorm(b, tokens, tokens, max_completion_length=t + 2)
    ours, _ = policy_loss(
        PolicyLossInputs(logp, old, adv, mask, ref_logp=ref if beta else None),
        norm,
        loss_type=loss_type,
        epsilon_low=0.2,
        epsilon_high=0.28,
        beta=beta,
    )
    assert ours.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
