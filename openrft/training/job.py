"""Wire one job's real components (model, LoRA, engine, grader, learner) and run the loop
(the GRPO loop for reinforcement jobs, the tuning loop for supervised and DPO jobs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from openrft.domain.jobs import JobSpec
from openrft.graders import GraderContext, build_grader
from openrft.settings import Settings
from openrft.threads import in_compute, set_max_threads
from openrft.tools import Toolbox
from openrft.trackers.observers import job_trackers
from openrft.training.config import TrainConfig
from openrft.training.controller import (
    LearnerRole,
    Outcome,
    Roles,
    StepObserver,
    TrainingController,
    TrainingRuntime,
)
from openrft.training.data import Row, holdout_split, read_jsonl
from openrft.training.policy import Policy, load_policy
from openrft.training.preflight_gate import preflight_gate
from openrft.training.reward_workers import reward_grader
from openrft.training.rollout import Sampler, TokenizerCodec
from openrft.training.rollout_workers import rollout_sampler
from openrft.training.tool_setup import job_tools, tool_rollouts
from openrft.training.trainer_workers import job_learners
from openrft.training.tuning import (
    Objective,
    PreferenceObjective,
    SupervisedObjective,
    TuningController,
)
from openrft.training.tuning_data import ENCODERS
from openrft.training.vllm_sampler import job_rollout_engine, vllm_rollouts


def load_rows(spec: JobSpec, runtime: TrainingRuntime) -> tuple[list[Row], list[Row]]:
    """(train, valid) rows; without a validation file, a seeded 10% is held out (an event)."""
    rows = read_jsonl(Path(spec.training_file_path))
    if spec.validation_file_path is not None:
        return rows, read_jsonl(Path(spec.validation_file_path))
    train, valid = holdout_split(rows, spec.seed)
    runtime.add_event(
        spec.id,
        f"No validation file: holding out a seeded 10% of the training file ({len(valid)} of "
        f"{len(rows)} rows) for validation.",
    )
    return train, valid


async def run_job(
    spec: JobSpec,
    settings: Settings,
    runtime: TrainingRuntime,
    grader_ctx: GraderContext | None = None,
) -> Outcome:
    """Train ``spec`` to completion (or pause/cancel); the runtime records the outcome.

    ``grader_ctx``: how graders reach out (the job's credential for this server's chat
    endpoint, the egress policy); default: no credential, public URLs only."""
    config = TrainConfig.from_hyperparameters(spec.hyperparameters, seed=spec.seed)
    if settings.training_threads:
        set_max_threads(settings.training_threads)
    torch.manual_seed(config.seed)  # LoRA init and anything else drawn from torch's RNG
    scratch = settings.data_dir / "scratch" / spec.id
    scratch.mkdir(parents=True, exist_ok=True)
    train_rows, valid_rows = load_rows(spec, runtime)
    cache_dir = settings.resolved_model_cache_dir
    policy = await in_compute(load_policy, spec.model, config, cache_dir, beta=config.beta)
    trainable = sum(p.numel() for p in policy.trainable_parameters())
    runtime.add_event(
        spec.id,
        f"Loaded {spec.model} ({config.dtype}); training {trainable:,} parameters "
        + (
            f"(LoRA r={config.lora_rank}, alpha={config.lora_alpha:g})."
            if policy.is_lora
            else "(full fine-tune)."
        ),
    )
    if spec.method != "reinforcement":
        with job_trackers(spec, settings, runtime) as trackers:
            rows = (train_rows, valid_rows)
            return _tune(spec, config, runtime, policy, rows, scratch, observers=trackers)
    ctx = dataclasses.replace(
        grader_ctx
        or GraderContext(chat_base_url=settings.self_base_url, limits=settings.grader_limits),
        scratch_dir=scratch / "grader",
    )
    grader = build_grader(spec.grader, ctx)
    monitor = build_grader(spec.monitor_grader, ctx) if spec.monitor_grader else None
    try:
        rows = (train_rows, valid_rows)
        async with job_tools(spec, [*train_rows, *valid_rows], runtime, ctx) as tools:
            with (
                _job_sampler(spec, config, settings, runtime, policy, scratch) as (
                    sampler,
                    sampler_observers,
                ),
                job_learners(spec, config, settings, runtime, policy) as make_learner,
                reward_grader(spec, settings, runtime, grader, scratch / "grader") as grading,
                job_trackers(spec, settings, runtime) as trackers,
            ):
                controller = _controller(
                    spec,
                    config,
                    runtime,
                    (policy, make_learner),
                    (grading, monitor),
                    sampler,
                    rows,
                    scratch,
                    tools,
                    observers=[*trackers, *sampler_observers],
                )
                gate_roles = (controller.roles.codec, controller.rollouts, grader)
                await preflight_gate(spec, config, runtime, rows, gate_roles)
                return await controller.run(resume_from=_resume_dir(spec))
    finally:
        await grader.aclose()
        if monitor is not None:
            await monitor.aclose()


@contextmanager
def _job_sampler(
    spec: JobSpec,
    config: TrainConfig,
    settings: Settings,
    runtime: TrainingRuntime,
    policy: Policy,
    scratch: Path,
) -> Iterator[tuple[Sampler, list[StepObserver]]]:
    """What rollouts and evaluations sample from (``rollout_engine``): a vLLM server that gets
    the new weights after every step (with the observer reporting its syncs), or openrft's
    engine (in process or on Ray workers)."""
    if job_rollout_engine(config, settings) == "vllm":
        with vllm_rollouts(spec, config, settings, runtime, policy, scratch) as (sampler, report):
            yield sampler, [report]
        return
    with rollout_sampler(spec, config, settings, runtime, policy) as local_or_ray:
        yield local_or_ray, []


def _controller(
    spec: JobSpec,
    config: TrainConfig,
    runtime: TrainingRuntime,
    trainer: tuple[Policy, Callable[[int], LearnerRole]],  # (policy, make_learner)
    graders: tuple[Any, Any | None],  # (grader, monitor grader or None)
    sampler: Sampler,
    rows: tuple[list[Row], list[Row]],
    scratch: Path,
    tools: Toolbox | None,
    *,
    observers: Sequence[StepObserver],
) -> TrainingController:
    policy, make_learner = trainer
    tokenizer = policy.tokenizer
    roles = Roles(
        runtime=runtime,
        codec=TokenizerCodec(tokenizer),
        sampler=sampler,
        grader=graders[0],
        make_learner=make_learner,
        weights=policy,
        monitor=graders[1],
        rollouts=tool_rollouts(sampler, tokenizer, tools, [*rows[0], *rows[1]], config.max_turns),
        observers=observers,
    )
    return TrainingController(spec.id, config, roles, rows[0], rows[1], scratch)


def _tune(
    spec: JobSpec,
    config: TrainConfig,
    runtime: TrainingRuntime,
    policy: Policy,
    rows: tuple[list[Row], list[Row]],
    scratch: Path,
    *,
    observers: Sequence[StepObserver],
) -> Outcome:
    """A supervised or DPO job: its rows as token ids, its objective, the tuning loop."""
    encode = ENCODERS[spec.method]
    examples = tuple([encode(policy.tokenizer, row) for row in split] for split in rows)
    objective: Objective = (
        PreferenceObjective(policy, config.beta)
        if spec.method == "dpo"
        else SupervisedObjective(policy)
    )
    controller = TuningController(
        spec.id, config, objective, policy, runtime, (examples[0], examples[1]), scratch, observers
    )
    return controller.run(resume_from=_resume_dir(spec))


def _resume_dir(spec: JobSpec) -> Path | None:
    return None if spec.resume_from is None else Path(spec.resume_from)
