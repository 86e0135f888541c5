from dataclasses import replace
from pathlib import Path

import pytest
import torch

from openrft.inference.registry import load_base_model
from openrft.training import update
from openrft.training.policy import Policy
from openrft.training.prompt_batch import full_attention, prompt_batch
from openrft.training.scoring import GroupTokens, group_logprobs
from openrft.training.update import Learner
from tests.unit.training.test_learner import CONFIG, groups_with_true_logprobs


def _policy(tiny_cache: Path, beta: float = 0.0) -> Policy:
    """A fresh tiny-random-llama with a random (non-zero) LoRA adapter."""
    policy = Policy(
        *load_base_model("tiny-random-llama", cache_dir=tiny_cache),
        lora_rank=4,
        lora_alpha=8.0,
        beta=beta,
    )
    torch.manual_seed(3)
    for p in policy.trainable_parameters():  # LoRA B starts at 0: give A a gradient too
        torch.nn.init.normal_(p, std=0.1)
    return policy


def _group(prompt_len: int, lengths: list[int], seed: int) -> GroupTokens:
    gen = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(0, 250, (len(lengths), width), generator=gen)
    mask = (torch.arange(width)[None] < torch.tensor(lengths)[:, None]).float()
    return GroupTokens(torch.randint(0, 250, (prompt_len,), generator=gen), ids, mask)


def test_batched_prompts_give_each_groups_logprobs_and_gradients(tiny_cache: Path) -> None:
    """Prompts of different lengths run together (right-padded); a group of one-token
    completions feeds nothing after its prompt. Same log-probs and gradients as one by one."""
    groups = [_group(5, [3, 6, 1], seed=0), _group(9, [1, 1], seed=1), _group(7, [4, 2], seed=2)]
    results = []
    for batched in (False, True):
        policy = _policy(tiny_cache)
        lm = policy.causal_lm
        prompts = prompt_batch(lm, [(i, g.prompt_ids) for i, g in enumerate(groups)])
        assert (prompts is not None) == full_attention(lm.config)
        logps = []
        for index, group in enumerate(groups):
            states = prompts.states(index) if batched and prompts is not None else None
            logp, _ = group_logprobs(lm, group, temperature=0.8, prompt=states)
            (logp * torch.linspace(-1, 1, logp.numel()).view_as(logp)).sum().backward()
            logps.append(logp.detach())
        if batched and prompts is not None:
            prompts.backward()
        grads = [p.grad.clone() for p in policy.trainable_parameters()]
        results.append((logps, grads))
    (logps_a, grads_a), (logps_b, grads_b) = results
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(logps_a, logps_b, strict=True))
    assert len(grads_a) == 28 and all(g.abs().sum() > 0 for g in grads_a)
    for a, b in zip(grads_a, grads_b, strict=True):
        assert float((a - b).abs().max()) <= 1e-5 * float(a.abs().max())


@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_learner_step_is_the_same_with_batched_prompts(
    tiny_cache: Path, monkeypatch: pytest.MonkeyPatch, beta: float
) -> None:
    """A group split into micro-batches shares its prompt leaves; the reference pass (beta > 0)
    reads batched prompts without gradient."""
    config = replace(CONFIG, micro_batch_tokens=16, beta=beta)  # groups split in 2-3 batches
    runs = []
    for batched in (True, False):
        if not batched:
            monkeypatch.setattr(update, "prompt_batch", lambda *_: None)
        policy = _policy(tiny_cache, beta)
        groups = groups_with_true_logprobs(policy)
        metrics = Learner(policy, config, total_steps=4).step(
            groups, torch.tensor([1.0, -1.0, 0.5, -0.5, 0.25, 2.0])
        )
        runs.append((metrics, [p.grad.clone() for p in policy.trainable_parameters()]))
    (metrics_a, grads_a), (metrics_b, grads_b) = runs
    assert len(update.split_micro_batches(groups, torch.ones(6), 16, skip_zero=True)) > 2
    assert metrics_a["actor_kl"] == pytest.approx(metrics_b["actor_kl"], rel=1e-5)
    assert metrics_a["actor_pg_loss"] == pytest.approx(metrics_b["actor_pg_loss"], rel=1e-5)
    for a, b in zip(grads_a, grads_b, strict=True):
        assert float((a - b).abs().max()) <= 1e-5 * float(a.abs().max())


def test_sliding_window_models_run_prompts_one_by_one() -> None:
    class Config:
        pass

    sliding = Config()
    sliding.layer_types = ["sliding_attention", "full_attention"]  # type: ignore[attr-defined]
    mistral = Config()
    mistral.sliding_window = 4096  # type: ignore[attr-defined]
    assert not full_attention(sliding) and not full_attention(mistral)
    assert full_attention(Config())

    class Model:
        config = mistral

    assert prompt_batch(Model(), [(0, torch.tensor([1, 2]))]) is None
