"""``async_rollouts`` on tiny-random-llama: the real engine, policy and learner, a fake grader.

Step 1 of an async run samples and trains with the same weights (staleness 0): its update is
the synchronous one, bit for bit. Step 2 trains on samples drawn before step 1's update
(staleness 1): the learner's truncated importance sampling must weigh them, and its gap shows.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from openrft.inference.registry import load_base_model
from openrft.training.config import EarlyStoppingConfig, TrainConfig
from openrft.training.controller import Roles, TrainingController
from openrft.training.policy import Policy
from openrft.training.rollout import EngineSampler, GroupRollout
from openrft.training.scoring import group_logprobs
from openrft.training.snapshot_sampler import SnapshotSampler
from openrft.training.update import Learner, group_tensors
from tests.unit.training.fakes import FakeCodec, FakeGrader, FakeRuntime

CONFIG = TrainConfig(
    batch_size=2,
    group_size=4,
    n_epochs=1,
    max_completion_tokens=8,
    learning_rate=3e-2,
    lora_rank=4,
    lora_alpha=8.0,
    eval_interval=100,
    eval_samples=1,
    early_stopping=EarlyStoppingConfig(patience=100, min_delta=0.0, target_reward=None),
    seed=3,
    rollout_dtype="float32",  # the sampler's only gap from the trainer is staleness
)
Params = dict[str, torch.Tensor]


def rows(n: int) -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": f"count to {i} now"}]} for i in range(n)]


def trained(policy: Policy) -> Params:
    return {n: p.detach().clone() for n, p in policy.model.named_parameters() if p.requires_grad}


class Recorder:
    """Observer and learner wrapper: the weights after each step, and what each step trained
    on, with the learner state it started from."""

    def __init__(self, policy: Policy, config: TrainConfig):
        self.policy = policy
        self.config = config
        self.learner: Learner | None = None
        self.after: dict[int, Params] = {}
        self.steps: list[tuple[list[GroupRollout], torch.Tensor, Params, dict[str, Any]]] = []

    def make_learner(self, total_steps: int) -> Recorder:
        self.learner = Learner(self.policy, self.config, total_steps)
        return self

    def step(self, groups: list[GroupRollout], advantages: torch.Tensor) -> dict[str, float]:
        assert self.learner is not None
        state = copy.deepcopy(self.learner.state_dict())
        self.steps.append((list(groups), advantages.clone(), trained(self.policy), state))
        return self.learner.step(groups, advantages)

    def state_dict(self) -> dict[str, object]:
        assert self.learner is not None
        return self.learner.state_dict()

    def load_state_dict(self, state: dict[str, object]) -> None:
        assert self.learner is not None
        self.learner.load_state_dict(state)

    def on_samples(self, samples: Any) -> None:
        return None

    def on_step(self, step: int, metrics: dict[str, Any]) -> None:
        self.after[step] = trained(self.policy)

    def on_finish(self, outcome: str) -> None:
        return None


def fresh_policy(tiny_cache: Path) -> Policy:
    base, tokenizer = load_base_model("tiny-random-llama", cache_dir=tiny_cache)
    torch.manual_seed(0)  # the same LoRA initialisation in every run
    return Policy(base, tokenizer, lora_rank=4, lora_alpha=8.0, beta=0.0)


def train(tmp_path: Path, tiny_cache: Path, config: TrainConfig) -> tuple[FakeRuntime, Recorder]:
    policy = fresh_policy(tiny_cache)
    sampler = (
        SnapshotSampler(policy, config)
        if config.async_rollouts
        else EngineSampler.for_job(policy.model, policy.tokenizer, config)
    )
    recorder = Recorder(policy, config)
    runtime = FakeRuntime(tmp_path / "store")
    # Reward: the share of completion tokens that are multiples of 26 ('a'): varies in groups.
    roles = Roles(
        runtime,
        FakeCodec(),
        sampler,
        FakeGrader(),
        recorder.make_learner,
        policy,
        observers=[recorder],
    )
    controller = TrainingController("ftjob-a", config, roles, rows(4), rows(2), tmp_path / "s")
    assert asyncio.run(controller.run()) == "succeeded"
    return runtime, recorder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_cache: Path) -> dict[bool, Any]:
    return {
        mode: train(
            tmp_path_factory.mktemp(f"async-{mode}"),
            tiny_cache,
            dataclasses.replace(CONFIG, async_rollouts=mode),
        )
        for mode in (False, True)
    }


def test_staleness_zero_gives_the_synchronous_update(runs: dict[bool, Any]) -> None:
    (sync_runtime, sync), (async_runtime, ahead) = runs[False], runs[True]
    sync_metrics, async_metrics = sync_runtime.metrics_events(), async_runtime.metrics_events()
    assert [m["async/staleness"] for m in sync_metrics] == [0, 0]
    assert [m["async/staleness"] for m in async_metrics] == [0, 1]
    # Step 1: sampled and trained with the same weights in both runs: the same update.
    assert sync.after[1].keys() == ahead.after[1].keys()
    assert all(torch.equal(sync.after[1][n], ahead.after[1][n]) for n in sync.after[1])
    assert any(not torch.equal(sync.steps[0][2][n], sync.after[1][n]) for n in sync.after[1])
    # Step 2 of the async run sampled before step 1's update: other samples, another update.
    assert any(not torch.equal(sync.after[2][n], ahead.after[2][n]) for n in sync.after[2])


def test_staleness_one_is_corrected_by_truncated_importance_sampling(
    runs: dict[bool, Any], tiny_cache: Path
) -> None:
    (sync_runtime, _), (async_runtime, ahead) = runs[False], runs[True]
    sync_step2, async_step2 = sync_runtime.metrics_events()[1], async_runtime.metrics_events()[1]
    # The sampler's log-probs (weights before step 1) against the trainer's (after step 1).
    assert sync_step2["sampling/logp_gap_mean"] < 1e-4
    assert async_step2["sampling/logp_gap_mean"] > 1e-3
    assert async_step2["sampling/is_ratio_mean"] != pytest.approx(1.0, abs=1e-3)

    groups, advantages, start, learner_state = ahead.steps[1]

    def replay(groups: list[GroupRollout]) -> Params:
        """Step 2 again from the state it started in."""
        policy = fresh_policy(tiny_cache)
        policy.load_trained_state(start)
        learner = Learner(policy, dataclasses.replace(CONFIG, async_rollouts=True), 2)
        learner.load_state_dict(copy.deepcopy(learner_state))
        learner.step(groups, advantages)
        return trained(policy)

    def on_policy(policy: Policy, group: GroupRollout) -> GroupRollout:
        """The group with its sampling log-probs replaced by the trainer's own: no gap, so
        importance sampling has nothing to correct."""
        tokens, _ = group_tensors(group)
        with torch.no_grad():
            logp, _ = group_logprobs(policy.causal_lm, tokens, temperature=1.0)
        completions = [
            dataclasses.replace(c, logprobs=logp[i, : len(c.token_ids)].tolist())
            for i, c in enumerate(group.completions)
        ]
        return dataclasses.replace(group, completions=completions)

    replayed = replay(groups)
    assert all(torch.allclose(replayed[n], ahead.after[2][n], atol=1e-7) for n in replayed)
    reference = fresh_policy(tiny_cache)
    reference.load_trained_state(start)
    uncorrected = replay([on_policy(reference, g) for g in groups])
    change = max(float((ahead.after[2][n] - start[n]).abs().max()) for n in start)
    skipped = max(float((uncorrected[n] - ahead.after[2][n]).abs().max()) for n in start)
    assert skipped > 0.25 * change  # the correction moved the update, not just rounding
