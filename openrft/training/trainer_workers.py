"""``trainer_workers``: the GRPO update data-parallel across Ray actors with ``torch.distributed``.

Each ``TrainerWorker`` holds a copy of the policy and a ``Learner`` with its rank in one process
group (gloo; NCCL when the policy is on a GPU): it trains every world_size-th micro-batch of the
step, and one all-reduce makes every rank's gradient the single-worker gradient of the whole
batch (``data_parallel``), so every rank makes the update one worker would make. The step's
rollouts and advantages go to the workers once through Ray's object store. The job's process
keeps its own policy for rollouts, evaluation and checkpoints: rank 0 sends back the trained
tensors (the LoRA adapter, or every weight of a full fine-tune) after each step, and on start or
resume every rank gets the job's weights and optimizer state. Ray Train is not used: its
``TorchTrainer`` owns the training loop, and here the job's controller drives it step by step.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

import torch
import torch.distributed as dist

from openrft.domain.jobs import JobSpec
from openrft.settings import Settings
from openrft.training.config import TrainConfig
from openrft.training.controller import LearnerRole, TrainingRuntime
from openrft.training.data_parallel import DataParallel, backend_for
from openrft.training.policy import Policy
from openrft.training.ray_workers import (
    RoleActor,
    WorkerGroup,
    load_policy,
    model_workers,
    on_ray,
)
from openrft.training.rollout import GroupRollout
from openrft.training.update import Learner

Weights = dict[str, torch.Tensor]


class TrainerWorker(RoleActor):
    """One rank: a copy of the job's policy and its ``Learner`` (after ``join``)."""

    def __init__(self, model: str, config: TrainConfig, cache_dir: str, threads: int | None):
        self.config = config
        self.policy = load_policy(model, config, cache_dir, threads, beta=config.beta)
        self.learner: Learner | None = None

    def rendezvous(self) -> str:
        """``host:port`` on this node for the process group's TCP store (rank 0 serves it)."""
        import ray

        with socket.socket() as probe:
            probe.bind(("", 0))
            port = probe.getsockname()[1]
        return f"{ray.util.get_node_ip_address()}:{port}"

    def join(self, rank: int, world_size: int, address: str, total_steps: int) -> None:
        device = next(self.policy.model.parameters()).device
        dist.init_process_group(
            backend_for(device), init_method=f"tcp://{address}", rank=rank, world_size=world_size
        )
        self.learner = Learner(self.policy, self.config, total_steps, DataParallel.current())

    def load(self, weights: Weights, learner_state: dict[str, object] | None) -> None:
        """The job's trained tensors, and its optimizer/schedule state when resuming."""
        assert self.learner is not None
        self.policy.load_trained_state(weights)
        if learner_state is not None:
            self.learner.load_state_dict(learner_state)

    def step(
        self, batch: tuple[list[GroupRollout], torch.Tensor], send_weights: bool
    ) -> tuple[dict[str, float], Weights | None]:
        """One ``Learner.step`` on this rank's share; the metrics (the whole batch's) and,
        when asked, the trained tensors after the update."""
        assert self.learner is not None
        metrics = self.learner.step(*batch)
        return metrics, self.policy.trained_state() if send_weights else None

    def state_dict(self) -> dict[str, object]:
        assert self.learner is not None
        return self.learner.state_dict()


class RayLearner:
    """``LearnerRole`` over a joined group of ``TrainerWorker`` actors; ``policy`` is the job's
    (it gets rank 0's trained tensors after every step)."""

    def __init__(self, group: WorkerGroup, policy: Policy, total_steps: int):
        self.group = group
        self.policy = policy
        actors = group.actors
        (address,) = group.collect([actors[0].rendezvous.remote()])
        group.collect(
            [
                actor.join.remote(rank, len(actors), address, total_steps)
                for rank, actor in enumerate(actors)
            ]
        )
        self._push(None)

    def step(self, groups: Sequence[GroupRollout], advantages: torch.Tensor) -> dict[str, float]:
        """advantages: (B*G,) in the order of ``groups``' completions."""
        import ray

        batch = ray.put((list(groups), advantages))
        refs = [actor.step.remote(batch, rank == 0) for rank, actor in enumerate(self.group.actors)]
        metrics, weights = self.group.collect(refs)[0]
        self.policy.load_trained_state(weights)
        self.policy.version += 1
        return metrics

    def state_dict(self) -> dict[str, object]:
        state: dict[str, object] = self.group.collect([self.group.actors[0].state_dict.remote()])[0]
        return state

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Resume: the job's policy already holds the checkpoint's weights."""
        self._push(state)

    def _push(self, learner_state: dict[str, object] | None) -> None:
        import ray

        weights = ray.put(self.policy.trained_state())
        self.group.collect([a.load.remote(weights, learner_state) for a in self.group.actors])


@contextmanager
def job_learners(
    spec: JobSpec,
    config: TrainConfig,
    settings: Settings,
    runtime: TrainingRuntime,
    policy: Policy,
) -> Iterator[Callable[[int], LearnerRole]]:
    """``make_learner(total_steps)`` for the job: a ``Learner`` in this process, or one over
    ``trainer_workers`` Ray actors (killed when the block ends)."""
    workers = int(spec.hyperparameters.get("trainer_workers") or 1)
    if workers <= 1 or not on_ray(spec, runtime, "trainer_workers", "training"):
        yield lambda total_steps: Learner(policy, config, total_steps)
        return
    with ExitStack() as stack:

        def make_learner(total_steps: int) -> LearnerRole:
            group = stack.enter_context(
                model_workers(
                    "trainer", spec, config, settings, runtime, TrainerWorker, strategy="PACK"
                )
            )
            return RayLearner(group, policy, total_steps)

        yield make_learner
