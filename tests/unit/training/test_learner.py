from dataclasses import replace
from pathlib import Path

import pytest
import torch

from openrft.training.config import TrainConfig
from openrft.training.policy import Policy
from openrft.training.rollout import GroupRollout
from openrft.training.scoring import GroupTokens, group_logprobs
from openrft.training.update import Learner, split_micro_batches
from tests.unit.training.fakes import FakeCompletion

CONFIG = TrainConfig(
    learning_rate=1e-2, max_completion_tokens=6, group_size=3, lora_rank=4, lora_alpha=8.0
)


def groups_with_true_logprobs(policy: Policy, seed: int = 0) -> list[GroupRollout]:
    """Two groups of 3 random completions, their sampling log-probs from the policy itself."""
    gen = torch.Generator().manual_seed(seed)
    groups = []
    for prompt_len in (5, 9):
        prompt = torch.randint(0, 250, (prompt_len,), generator=gen).tolist()
        comps = []
        for length in (2, 6, 4):
            ids = torch.randint(0, 250, (length,), generator=gen)
            tokens = GroupTokens(torch.tensor(prompt), ids[None], torch.ones(1, length))
            with torch.no_grad():
                logp, _ = group_logprobs(policy.causal_lm, tokens, temperature=1.0)
            comps.append(FakeCompletion(ids.tolist(), logp[0].tolist()))
        groups.append(GroupRollout({"messages": []}, prompt, comps, ["", "", ""]))
    return groups


def params(policy: Policy) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in policy.model.named_parameters() if p.requires_grad}


def test_one_step_changes_every_lora_parameter_and_reports_metrics(tiny) -> None:
    policy = Policy(*tiny, lora_rank=4, lora_alpha=8.0, beta=0.0)
    before = params(policy)
    learner = Learner(policy, CONFIG, total_steps=10)
    metrics = learner.step(groups_with_true_logprobs(policy), torch.tensor([1.0, -1.0, 0.5] * 2))
    # LoRA B starts at 0, so A gets its first gradient on the second step.
    learner.step(groups_with_true_logprobs(policy, seed=1), torch.tensor([1.0, -1.0, 0.5] * 2))
    after = params(policy)
    assert before.keys() == after.keys() and len(before) > 0
    unchanged = [n for n in before if torch.equal(before[n], after[n])]
    assert unchanged == []
    base_unchanged = all(
        not p.requires_grad for n, p in policy.model.named_parameters() if "lora_" not in n
    )
    assert base_unchanged
    assert metrics["actor_grad_norm"] > 0
    assert metrics["actor_pg_clipfrac"] == 0.0  # first pass: ratio is exactly 1
    # Sampling log-probs came from the same weights: the trainer/sampler gap is ~0.
    assert metrics["sampling/logp_gap_mean"] < 1e-4
    assert metrics["sampling/is_ratio_mean"] == pytest.approx(1.0, abs=1e-4)
    assert metrics["actor_lr"] == pytest.approx(1e-2)


def test_zero_advantages_skip_the_update(tiny) -> None:
    policy = Policy(*tiny, lora_rank=4, lora_alpha=8.0, beta=0.0)
    before = params(policy)
    groups = groups_with_true_logprobs(policy)
    metrics = Learner(policy, CONFIG, total_steps=10).step(groups, torch.zeros(6))
    after = params(policy)
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert metrics["trained_fraction"] == 0.0
    # Nothing was trained on: entropy falls back to -mean log p of the sampled tokens.
    logps = [lp for g in groups for c in g.completions for lp in c.logprobs]
    assert metrics["actor_entropy"] == pytest.approx(-sum(logps) / len(logps))


def test_micro_batch_budget_does_not_change_the_update(tiny, tiny_cache: Path) -> None:
    from openrft.inference.registry import load_base_model

    results = []
    for budget in (4096, 12):  # 12 tokens: every completion in its own micro-batch
        torch.manual_seed(0)
        policy = Policy(
            *load_base_model("tiny-random-llama", cache_dir=tiny_cache),
            lora_rank=4,
            lora_alpha=8.0,
            beta=0.0,
        )
        learner = Learner(policy, replace(CONFIG, micro_batch_tokens=budget), total_steps=10)
        for seed in (0, 1):
            adv = torch.tensor([1.0, -1.0, 0.5] * 2)
            learner.step(groups_with_true_logprobs(policy, seed), adv)
        results.append(params(policy))
    # Adam divides each gradient entry by its own magnitude, so float rounding (the sums run in
    # another order per layout) moves a near-zero entry's update by up to ~1e-6; a gradient
    # that differed would move it by up to the learning rate, 1e-2.
    for name in results[0]:
        assert torch.allclose(results[0][name], results[1][name], atol=1e-5), name


def test_split_micro_batches_respects_the_token_budget(tiny) -> None:
    policy = Policy(*tiny, lora_rank=4, lora_alpha=8.0, beta=0.0)
    groups = groups_with_true_logprobs(policy)
    batches = split_micro_batches(groups, torch.ones(6), token_budget=17, skip_zero=True)
    # Group 1: prompt 5 + width 6 → 2 rows per batch; group 2: prompt 9 → 1 row per batch.
    assert [b.tokens.completion_ids.shape[0] for b in batches] == [2, 1, 1, 1, 1]
    skipped = split_micro_batches(groups, torch.tensor([0.0] * 3 + [1.0] * 3), 4096, True)
    assert len(skipped) == 1 and skipped[0].tokens.prompt_ids.numel() == 9


def test_several_iterations_clip_and_kl_against_the_adapter_free_reference(tiny) -> None:
    policy = Policy(*tiny, lora_rank=4, lora_alpha=8.0, beta=0.1)
    config = replace(
        CONFIG, num_iterations=4, beta=0.1, learning_rate=5e-2, epsilon=0.05, epsilon_high=0.05
    )
    learner = Learner(policy, config, total_steps=2)
    first = learner.step(groups_with_true_logprobs(policy), torch.tensor([1.0, -1.0, 0.5] * 2))
    # LoRA starts as the identity (B = 0): KL to the reference is 0 before the first update,
    # positive once the later passes run on updated weights.
    assert first["actor_kl"] > 0
    assert first["actor_pg_clipfrac"] > 0  # later passes move the ratio past 1 +- 0.05
    groups = groups_with_true_logprobs(policy, seed=1)
    with torch.no_grad(), policy.reference() as ref:
        ref_logp, _ = group_logprobs(
            ref,
            GroupTokens(
                torch.tensor(groups[0].prompt_ids),
                torch.tensor([groups[0].completions[0].token_ids]),
                torch.ones(1, 2),
            ),
            temperature=1.0,
        )
    base_lm = tiny[0]
    with torch.no_grad(), policy.model.disable_adapter():
        logits = base_lm(torch.tensor([groups[0].prompt_ids + groups[0].completions[0].token_ids]))
    lp = torch.log_softmax(logits.logits[0, 4:6], -1)
    expected = lp.gather(-1, torch.tensor(groups[0].completions[0].token_ids)[:, None]).squeeze(-1)
    assert torch.allclose(ref_logp[0], expected, atol=1e-5)


def test_full_fine_tune_trains_every_weight(tiny) -> None:
    policy = Policy(*tiny, lora_rank=0, lora_alpha=8.0, beta=0.0)
    before = params(policy)
    assert len(before) == len(list(policy.model.parameters()))
    Learner(policy, replace(CONFIG, lora_rank=0), total_steps=1).step(
        groups_with_true_logprobs(policy), torch.tensor([1.0, -1.0, 0.5] * 2)
    )
    changed = [n for n in before if not torch.equal(before[n], params(policy)[n])]
    assert len(changed) == len(before)


def test_save_and_load_weights_round_trip(tiny, tiny_cache: Path, tmp_path: Path) -> None:
    policy = Policy(*tiny, lora_rank=4, lora_alpha=8.0, beta=0.0)
    Learner(policy, CONFIG, total_steps=1).step(
        groups_with_true_logprobs(policy), torch.tensor([1.0, -1.0, 0.5] * 2)
    )
    policy.save(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "ckpt" / "adapter_config.json").is_file()
    from openrft.inference.registry import load_base_model

    fresh = Policy(
        *load_base_model("tiny-random-llama", cache_dir=tiny_cache),
        lora_rank=4,
        lora_alpha=8.0,
        beta=0.0,
    )
    fresh.load_weights(tmp_path / "ckpt")
    saved, loaded = params(policy), params(fresh)
    assert all(torch.equal(saved[n], loaded[n]) for n in saved)


def test_full_fine_tune_with_kl_keeps_a_frozen_reference(tiny) -> None:
    policy = Policy(*tiny, lora_rank=0, lora_alpha=8.0, beta=0.1)
    with policy.reference() as ref:
        ref_before = {n: p.detach().clone() for n, p in ref.named_parameters()}
        assert ref is not policy.causal_lm
        assert not any(p.requires_grad for p in ref.parameters())
    config = replace(CONFIG, lora_rank=0, beta=0.1, num_iterations=2)
    metrics = Learner(policy, config, total_steps=1).step(
        groups_with_true_logprobs(policy), torch.tensor([1.0, -1.0, 0.5] * 2)
    )
    assert metrics["actor_kl"] > 0  # the second pass runs on updated weights
    with policy.reference() as ref:
        assert all(torch.equal(p, ref_before[n]) for n, p in ref.named_parameters())


def test_a_step_with_every_sample_ungraded_changes_nothing(tiny) -> None:
    # max_grader_error_rate=1 lets a step whose every sample erred through: nothing to train.
    policy = Policy(*tiny, lora_rank=4, lora_alpha=8.0, beta=0.0)
    before = params(policy)
    metrics = Learner(policy, CONFIG, total_steps=10).step([], torch.zeros(0))
    assert all(torch.equal(before[n], p) for n, p in params(policy).items())
    assert metrics["trained_fraction"] == 0.0
