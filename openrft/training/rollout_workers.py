"""``rollout_workers``: a step's prompts generated in parallel by Ray actors.

When a job runs on Ray (``serve --executor ray``) and asks for more than one rollout worker,
each ``RolloutWorker`` actor loads the base model once; every ``sample`` call puts the policy's
trained tensors (the LoRA adapter only, or every weight of a full fine-tune) in Ray's object
store once, and each actor loads them and samples its contiguous share of the prompts. The
sampled groups come back in prompt order, so the controller cannot tell ``RaySampler`` from
the in-process ``EngineSampler``. Outside Ray the job generates in its own process.
An actor that dies or stalls ends the step with ``WorkerActorLost`` (``ray_workers``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from openrft.domain.jobs import JobSpec
from openrft.settings import Settings
from openrft.training.config import TrainConfig
from openrft.training.controller import TrainingRuntime
from openrft.training.policy import Policy
from openrft.training.ray_workers import (
    RoleActor,
    WorkerGroup,
    load_policy,
    model_workers,
    on_ray,
    shares,
)
from openrft.training.rollout import Completion, EngineSampler, Sampler, SamplingConfig
from openrft.training.snapshot_sampler import SnapshotSampler


class RolloutWorker(RoleActor):
    """A Ray actor holding one copy of the base model (with LoRA layers when LoRA)."""

    def __init__(self, model: str, config: TrainConfig, cache_dir: str, threads: int | None):
        self.policy = load_policy(model, config, cache_dir, threads, beta=0.0)
        self.sampler = EngineSampler.for_job(self.policy.model, self.policy.tokenizer, config)

    def sample(
        self,
        weights: dict[str, torch.Tensor],
        prompts: list[list[int]],
        config: SamplingConfig,
        n: int,
    ) -> list[list[Completion]]:
        self.policy.load_trained_state(weights)
        return self.sampler.sample(prompts, config, n)


class RaySampler:
    """``Sampler`` over rollout actors; ``policy`` is the trainer's (its weights are shipped)."""

    def __init__(self, group: WorkerGroup, policy: Policy):
        self.group = group
        self.policy = policy
        self.pinned: Any = None  # object ref of the weights of the last ``pin_weights``

    def pin_weights(self) -> None:
        """Put the policy's trained tensors in the object store; samples use them from now on
        (the trainer may update its own meanwhile: ``async_rollouts``)."""
        import ray

        self.pinned = ray.put(self.policy.trained_state())

    def sample(
        self, prompts: list[list[int]], config: SamplingConfig, n: int
    ) -> list[list[Completion]]:
        import ray

        weights = self.pinned if self.pinned is not None else ray.put(self.policy.trained_state())
        parts = shares(len(prompts), len(self.group.actors))
        refs = [
            # Each share gets its own seed: the same seed would repeat one RNG stream.
            actor.sample.remote(weights, prompts[part], dataclasses.replace(config, seed=seed), n)
            for part, actor, seed in zip(
                parts, self.group.actors, range(config.seed, config.seed + len(parts)), strict=False
            )
        ]
        return [group for share in self.group.collect(refs) for group in share]


@contextmanager
def rollout_sampler(
    spec: JobSpec,
    config: TrainConfig,
    settings: Settings,
    runtime: TrainingRuntime,
    policy: Policy,
) -> Iterator[Sampler]:
    """The job's sampler: in this process, or ``rollout_workers`` Ray actors (killed at exit).
    In process with ``async_rollouts``, on a pinned copy of the policy (it trains meanwhile)."""
    workers = int(spec.hyperparameters.get("rollout_workers") or 1)
    local = (
        SnapshotSampler(policy, config)
        if config.async_rollouts
        else EngineSampler.for_job(policy.model, policy.tokenizer, config)
    )
    if workers <= 1 or not on_ray(spec, runtime, "rollout_workers", "generating"):
        _report_precision(spec, config, runtime, local.engine.matmul_dtype)
        yield local
        return
    with model_workers(
        "rollout", spec, config, settings, runtime, RolloutWorker, strategy="SPREAD"
    ) as group:
        yield RaySampler(group, policy)


def _report_precision(
    spec: JobSpec, config: TrainConfig, runtime: TrainingRuntime, matmul_dtype: torch.dtype | None
) -> None:
    """Say when rollouts multiply in another dtype than training (``rollout_dtype``)."""
    if matmul_dtype is None:
        return
    name = str(matmul_dtype).removeprefix("torch.")
    runtime.add_event(
        spec.id,
        f"Rollouts and evaluations sample with {name} matmuls (rollout_dtype "
        f"'{config.rollout_dtype}'); training stays in {config.dtype}, and truncated importance "
        "sampling corrects the log-prob gap (sampling/logp_gap_mean in the metrics).",
        data={"rollout_dtype": name},
    )
