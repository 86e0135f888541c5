"""``rollout_workers``: a step's prompts generated in parallel by Ray actors.

When a job runs on Ray (``serve --executor ray``) and asks for more than one rollout worker,
each ``RolloutWorker`` actor loads the base model once; every ``sample`` call puts the policy's
trained tensors (the LoRA adapter only, or every weight of a full fine-tune) in Ray's object
store once, and each actor loads them and samples its contiguous share of the prompts. The
sampled groups come back in prompt order, so the controller cannot tell ``RaySampler`` from
the in-process ``EngineSampler``. Outside Ray the job generates in its own process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from openrft.domain.jobs import JobSpec
from openrft.inference.engine import GenerationEngine
from openrft.inference.registry import load_base_model
from openrft.settings import Settings
from openrft.training.config import TrainConfig
from openrft.training.controller import TrainingRuntime
from openrft.training.policy import Policy
from openrft.training.rollout import Completion, EngineSampler, Sampler, SamplingConfig
from openrft.training.snapshot_sampler import SnapshotSampler

ANSWER_TIMEOUT_S = 1800.0  # one share of one step's generation


class RolloutTimeoutError(RuntimeError):
    """A rollout actor did not answer in time; the message names it and its node."""


class RolloutWorker:
    """A Ray actor holding one copy of the base model (with LoRA layers when LoRA)."""

    def __init__(self, model: str, config: TrainConfig, cache_dir: str, threads: int | None):
        if threads:
            torch.set_num_threads(threads)
        base, tokenizer = load_base_model(
            model, cache_dir=Path(cache_dir), dtype=config.torch_dtype
        )
        self.policy = Policy(
            base, tokenizer, lora_rank=config.lora_rank, lora_alpha=config.lora_alpha, beta=0.0
        )
        self.sampler = EngineSampler(GenerationEngine(self.policy.model, tokenizer))

    def where(self) -> str:
        import ray

        context = ray.get_runtime_context()
        return f"actor {context.get_actor_id()} on node {context.get_node_id()}"

    def sample(
        self,
        weights: dict[str, torch.Tensor],
        prompts: list[list[int]],
        config: SamplingConfig,
        n: int,
    ) -> list[list[Completion]]:
        self.policy.load_trained_state(weights)
        return self.sampler.sample(prompts, config, n)


def shares(count: int, workers: int) -> list[slice]:
    """Contiguous slices of ``range(count)`` for ``workers``, sizes differing by at most one
    (empty slices left out)."""
    size, extra = divmod(count, workers)
    out, start = [], 0
    for i in range(workers):
        stop = start + size + (1 if i < extra else 0)
        if stop > start:
            out.append(slice(start, stop))
        start = stop
    return out


class RaySampler:
    """``Sampler`` over rollout actors; ``policy`` is the trainer's (its weights are shipped)."""

    def __init__(self, actors: Sequence[Any], names: Sequence[str], policy: Policy):
        self.actors = list(actors)
        self.names = list(names)
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
        parts = shares(len(prompts), len(self.actors))
        refs = [
            # Each share gets its own seed: the same seed would repeat one RNG stream.
            actor.sample.remote(weights, prompts[part], dataclasses.replace(config, seed=seed), n)
            for part, actor, seed in zip(
                parts, self.actors, range(config.seed, config.seed + len(parts)), strict=False
            )
        ]
        _, pending = ray.wait(refs, num_returns=len(refs), timeout=ANSWER_TIMEOUT_S)
        if pending:
            late = [self.names[refs.index(ref)] for ref in pending]
            raise RolloutTimeoutError(
                f"Rollout worker {', '.join(late)} did not answer within {ANSWER_TIMEOUT_S:g} s."
            )
        return [group for share in ray.get(refs) for group in share]


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
    local: Sampler = (
        SnapshotSampler(policy)
        if config.async_rollouts
        else EngineSampler(GenerationEngine(policy.model, policy.tokenizer))
    )
    if workers <= 1:
        yield local
        return
    import ray

    if not ray.is_initialized():
        runtime.add_event(
            spec.id,
            f"rollout_workers={workers} needs serve --executor ray; generating in the job's "
            "own process.",
            level="warn",
        )
        yield local
        return
    from openrft.executors.ray_resources import job_resources

    options = job_resources(settings, spec.hyperparameters)
    remote = ray.remote(RolloutWorker).options(**options, max_restarts=0)
    cache = str(settings.resolved_model_cache_dir.resolve())
    actors: list[Any] = [
        remote.remote(spec.model, config, cache, settings.training_threads) for _ in range(workers)
    ]
    try:
        names = ray.get([actor.where.remote() for actor in actors], timeout=ANSWER_TIMEOUT_S)
        runtime.add_event(
            spec.id,
            f"Generating on {workers} Ray rollout workers: {'; '.join(names)}.",
            data={"rollout_workers": names},
        )
        yield RaySampler(actors, names, policy)
    finally:
        for actor in actors:
            ray.kill(actor)
