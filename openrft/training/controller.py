"""The training controller: the GRPO loop of one job, reading top to bottom.

    baseline eval → for each step: control check → rollouts → grade → advantages → update →
    (eval → checkpoint → early-stop check) → metrics event → … → final eval → finish

Every role (sampler, grader, learner, weights, runtime) is a small Protocol, so unit tests run
the loop against fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from openrft.domain.samples import RolloutSample
from openrft.rl import compute_advantages
from openrft.threads import in_compute
from openrft.training.bedrock_metrics import critic_metrics
from openrft.training.checkpoints import CheckpointStore, LoopCheckpoints
from openrft.training.config import TrainConfig
from openrft.training.data import Row, step_batches, steps_per_epoch
from openrft.training.evaluation import EvalResult, evaluate
from openrft.training.grader_errors import (
    GraderErrorRateExceeded,
    check_step_errors,
    eval_error_warning,
)
from openrft.training.grader_logs import GRADER_LOGS_FILENAME, GraderLogBook, distinct_logs
from openrft.training.grading import AsyncGrader, graded_groups
from openrft.training.results import results_csv
from openrft.training.rollout import (
    Codec,
    GroupRollout,
    PinnedSampler,
    Rollouts,
    Sampler,
    SamplingConfig,
    SingleTurn,
)
from openrft.training.samples import train_samples
from openrft.training.signals import IntegrityWatch
from openrft.training.step_rollouts import RolloutPipeline, StepInputs
from openrft.training.stopping import EarlyStopping
from openrft.training.tool_rollout import tool_metrics

RESULTS_FILENAME = "step_metrics.csv"
EVAL_SEED_OFFSET = 7_777_777  # evaluations share one seed: common random numbers across evals
CHECKPOINT_METRICS = (
    "step",
    "train_reward_mean",
    "valid_reward_mean",
    "valid_monitor_reward_mean",
    "actor_pg_loss",
)

Outcome = Literal["succeeded", "cancelled", "paused"]


class TrainingRuntime(CheckpointStore, Protocol):
    """What the loop needs from ``JobRuntime`` (besides checkpoints)."""

    def add_event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = ...,
        type: str = ...,
        data: dict[str, Any] | None = ...,
    ) -> None: ...

    def control_request(self, job_id: str) -> Literal["cancel", "pause"] | None: ...

    def update_progress(
        self, job_id: str, *, trained_tokens: int, estimated_finish: int | None
    ) -> None: ...

    def add_result_file(self, job_id: str, filename: str, data: bytes) -> str: ...

    def add_samples(self, job_id: str, samples: Sequence[RolloutSample]) -> None: ...

    def finish(
        self,
        job_id: str,
        status: Any,
        *,
        fine_tuned_step: int | None = ...,
        error: dict[str, Any] | None = ...,
    ) -> None: ...


class LearnerRole(Protocol):
    def step(
        self, groups: Sequence[GroupRollout], advantages: torch.Tensor
    ) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, object]: ...

    def load_state_dict(self, state: dict[str, object]) -> None: ...


class WeightsRole(Protocol):
    def save(self, out_dir: Path) -> None: ...

    def load_weights(self, src_dir: Path) -> None: ...


class StepObserver(Protocol):
    """Sees what the loop records (experiment trackers): samples, step metrics, the end."""

    def on_samples(self, samples: Sequence[RolloutSample]) -> None: ...

    def on_step(self, step: int, metrics: dict[str, Any]) -> None: ...

    def on_finish(self, outcome: str) -> None: ...


@dataclass
class Roles:
    runtime: TrainingRuntime
    codec: Codec
    sampler: Sampler
    grader: AsyncGrader
    make_learner: Callable[[int], LearnerRole]  # total_steps -> learner (sizes the LR schedule)
    weights: WeightsRole
    observers: Sequence[StepObserver] = ()
    monitor: AsyncGrader | None = None  # grades like ``grader`` but never trains
    rollouts: Rollouts | None = None  # multi-turn (tools); None: single-turn on the sampler


@dataclass
class LoopState:
    """What a checkpoint must carry to resume the loop exactly."""

    step: int = 0
    trained_tokens: int = 0
    baseline_reward: float | None = None
    results: list[dict[str, Any]] | None = None


class TrainingController:
    """Runs (or resumes) one job's GRPO loop and reports through the runtime."""

    def __init__(
        self,
        job_id: str,
        config: TrainConfig,
        roles: Roles,
        train_rows: Sequence[Row],
        valid_rows: Sequence[Row],
        scratch_dir: Path,
    ):
        self.job_id = job_id
        self.config = config
        self.roles = roles
        self.state = LoopState(results=[])
        self.stopping = EarlyStopping(config.early_stopping)
        self.checkpoints = LoopCheckpoints(roles.runtime, job_id, scratch_dir, roles.weights)
        self.grader_logs = GraderLogBook()
        self.rollouts = roles.rollouts or SingleTurn(roles.sampler, roles.codec)
        self.train = self._encode(train_rows, "training")
        self.valid = self._encode(valid_rows, "validation")
        for kind, kept in (("training", self.train), ("validation", self.valid)):
            if not kept:
                raise ValueError(
                    f"No {kind} row has a prompt within "
                    f"max_prompt_tokens={config.max_prompt_tokens}."
                )
        per_epoch = steps_per_epoch(len(self.train), config.batch_size)
        self.total_steps = min(per_epoch * config.n_epochs, config.max_steps or 1 << 62)
        batches = step_batches(len(self.train), config.batch_size, config.seed, config.n_epochs)
        self.plan = [rows for _, rows in batches][: self.total_steps]
        self.learner = roles.make_learner(self.total_steps)
        self.step_times: list[float] = []
        # A multi-turn rollout's length sums its turns, each capped at max_completion_tokens.
        turns = config.max_turns if roles.rollouts is not None else 1
        self.watch = IntegrityWatch(
            roles.monitor, config.group_size, config.max_completion_tokens * turns
        )
        self.pipeline = RolloutPipeline(
            self.rollouts,
            roles.grader,
            self._step_inputs,
            ahead=config.async_rollouts,
            pinned=roles.sampler if isinstance(roles.sampler, PinnedSampler) else None,
        )

    async def run(self, resume_from: Path | None = None) -> Outcome:
        """Train to the end (or early stop, cancel, pause) and finish the job."""
        if resume_from is not None:
            self._resume(resume_from)
        else:
            await self._baseline()
        outcome = await self._train()
        self._finish(outcome)
        return outcome

    async def _train(self) -> Outcome:
        try:
            return await self._train_steps()
        finally:
            await self.pipeline.drop()

    async def _train_steps(self) -> Outcome:
        cfg = self.config
        for step in range(self.state.step + 1, self.total_steps + 1):
            control = self.roles.runtime.control_request(self.job_id)
            if control == "cancel":
                self._event(f"Cancelled before step {step}.")
                return "cancelled"
            if control == "pause":
                self.checkpoints.pause(self.state.step, self._trainer_state())
                return "paused"
            try:
                metrics = await self._train_step(step)
            except GraderErrorRateExceeded as exc:
                self._event(exc.message, level="error", data=exc.data)
                self.checkpoints.pause(self.state.step, self._trainer_state())
                return "paused"
            stop_reason = None
            evaluated = step % cfg.eval_interval == 0 or step == self.total_steps
            if evaluated:
                await self.pipeline.settle()  # the evaluation runs alone
                eval_started = time.monotonic()
                result = await self._evaluate(step)
                metrics["timing/eval_s"] = time.monotonic() - eval_started
                metrics["valid_grader_error_rate"] = result.error_rate
                if result.reward_mean is not None:
                    metrics["valid_reward_mean"] = result.reward_mean
                    # Nova's name for it (verl's mean over n samples per prompt)
                    metrics[f"val-score/rewards/mean@{cfg.eval_samples}"] = result.reward_mean
                    metrics["valid_reward_std"] = result.reward_std
                    stop_reason = self.stopping.update(result.reward_mean)
                if result.monitor_reward_mean is not None:
                    metrics["valid_monitor_reward_mean"] = result.monitor_reward_mean
            self._log_step(step, metrics)
            for alarm in self.watch.update(metrics):
                self._event(alarm.message, level="warn", data={"alarm": alarm.kind, **alarm.data})
            if evaluated:
                self._checkpoint(step, metrics, metrics.get(self._selection_metric))
            if stop_reason is not None and step < self.total_steps:
                self._event(f"Stopping early after step {step}: {stop_reason}.")
                return "succeeded"
        self._event(f"Training finished: all {self.total_steps} steps done.")
        return "succeeded"

    async def _train_step(self, step: int) -> dict[str, Any]:
        """Rollouts → grades → advantages → update; returns the step's metrics."""
        cfg = self.config
        started = time.monotonic()
        ready = await self.pipeline.take(step, trained_steps=self.state.step)
        groups, graded = ready.groups, ready.graded
        waited = time.monotonic() - started
        self.grader_logs.add(step, "train", distinct_logs(graded.results))
        check_step_errors(step, graded, cfg.max_grader_error_rate)  # else: pause, not train
        advantages, adv_metrics = compute_advantages(
            graded.rewards,
            cfg.group_size,
            cfg.scale_rewards,  # type: ignore[arg-type]
            graded.graded,
        )
        self._keep_samples(
            train_samples(
                step, groups, self.plan[step - 1], graded.results, advantages.tolist(), cfg.seed
            )
        )
        signals = await self.watch.step_signals(groups, graded, tag=f"step{step}")
        if step < self.total_steps:  # async_rollouts: the next step generates meanwhile
            self.pipeline.launch_next(step + 1, trained_steps=self.state.step)
        update_started = time.monotonic()
        trained = graded_groups(groups, advantages, graded.graded)
        actor = await in_compute(self.learner.step, *trained)
        finished = time.monotonic()
        completion_tokens = sum(g.completion_tokens for g in groups)
        self.state.trained_tokens += completion_tokens + sum(
            len(g.prompt_ids) * len(g.completions) for g in groups
        )
        self.step_times.append(finished - started)
        return {
            "step": step,
            "total_steps": self.total_steps,
            "train_reward_mean": adv_metrics["reward_mean"],
            "train_reward_std": adv_metrics["reward_std"],
            **critic_metrics(
                graded.rewards,
                advantages,
                graded.graded,
                [sum(g.loss_mask(i)) for g in groups for i in range(len(g.completions))],
            ),
            **actor,
            "response_length_mean": completion_tokens / max(graded.rewards.numel(), 1),
            "completions/clipped_ratio": clipped_ratio(groups),
            "frac_reward_zero_std": adv_metrics["frac_reward_zero_std"],
            "grader_error_rate": graded.error_rate,
            "grader_retried_samples": graded.retried,
            **signals,
            "step_time_s": finished - started,
            "rollout_tokens_per_s": completion_tokens / max(ready.generate_s, 1e-9),
            **tool_metrics(groups),
            "async/staleness": self.state.step - ready.weights_step,
            "timing/generate_s": ready.generate_s,
            "timing/grade_s": ready.grade_s,
            "timing/rollout_wait_s": waited,
            "timing/update_s": finished - update_started,
            **graded.metrics,
        }

    def _step_inputs(self, step: int) -> StepInputs:
        items = [self.train[i] for i in self.plan[step - 1]]
        sampling = self._sampling(seed=self.config.seed * 1_000_003 + step)
        rows, prompts = [r for r, _ in items], [p for _, p in items]
        return StepInputs(rows, prompts, sampling, self.config.group_size)

    def _sampling(self, seed: int) -> SamplingConfig:
        cfg = self.config
        return SamplingConfig(cfg.max_completion_tokens, cfg.temperature, cfg.top_p, seed)

    async def _evaluate(self, step: int) -> EvalResult:
        self.pipeline.pin_weights()
        sampling = self._sampling(seed=self.config.seed * 1_000_003 + EVAL_SEED_OFFSET)
        result = await evaluate(
            self.roles.sampler,
            self.roles.codec,
            self.roles.grader,
            self.valid,
            sampling,
            self.config.eval_samples,
            step=step,
            monitor=self.roles.monitor,
            rollouts=self.rollouts,
            rows_per_call=self.config.batch_size * self.config.group_size,
        )
        self._keep_samples(result.samples)
        phase = f"Validation after step {step}" if step else "Baseline evaluation"
        limit = self.config.max_grader_error_rate
        warning = eval_error_warning(phase, result.error_rate, result.quoted_errors(), limit)
        self.grader_logs.add(step, "valid", result.logs)
        if warning is not None:
            self._event(warning, level="warn", data={"grader_logs": result.error_logs})
        return result

    def _keep_samples(self, samples: Sequence[RolloutSample]) -> None:
        self.roles.runtime.add_samples(self.job_id, samples)
        for observer in self.roles.observers:
            observer.on_samples(samples)

    async def _baseline(self) -> None:
        result = await self._evaluate(0)
        assert self.state.results is not None
        if result.reward_mean is None:
            self.state.results.append({"step": 0, "valid_grader_error_rate": 1.0})
            return
        self.state.baseline_reward = result.reward_mean
        self.stopping.update(result.reward_mean)
        monitor = {}
        if result.monitor_reward_mean is not None:
            monitor["valid_monitor_reward_mean"] = result.monitor_reward_mean
        self.state.results.append(
            {
                "step": 0,
                "valid_reward_mean": result.reward_mean,
                "valid_reward_std": result.reward_std,
                **monitor,
            }
        )
        self._event(
            f"Baseline evaluation before step 1: mean validation reward "
            f"{result.reward_mean:.4f} over {result.n_graded} graded samples "
            f"({result.n_items} items x {result.n_samples} samples).",
            data={
                "step": 0,
                "phase": "baseline",
                "valid_reward_mean": result.reward_mean,
                "valid_reward_std": result.reward_std,
                "valid_samples": result.n_items * result.n_samples,
                "valid_grader_error_rate": result.error_rate,
                **monitor,
            },
        )

    def _log_step(self, step: int, metrics: dict[str, Any]) -> None:
        """One ``metrics`` event, a results row and the progress estimate."""
        message = f"Step {step}/{self.total_steps}: train reward {metrics['train_reward_mean']:.4f}"
        if "valid_reward_mean" in metrics:
            message += f", validation reward {metrics['valid_reward_mean']:.4f}"
        self.state.step = step
        assert self.state.results is not None
        self.state.results.append(dict(metrics))
        self.roles.runtime.add_event(self.job_id, message, type="metrics", data=dict(metrics))
        for observer in self.roles.observers:
            observer.on_step(step, dict(metrics))
        mean_step = sum(self.step_times) / len(self.step_times)
        remaining = (self.total_steps - step) * mean_step
        self.roles.runtime.update_progress(
            self.job_id,
            trained_tokens=self.state.trained_tokens,
            estimated_finish=int(time.time() + remaining),
        )

    @property
    def _selection_metric(self) -> str:
        """The validation metric that ranks checkpoints (``select_checkpoint_by``)."""
        if self.config.select_checkpoint_by == "monitor":
            return "valid_monitor_reward_mean"
        return "valid_reward_mean"

    def _checkpoint(self, step: int, metrics: dict[str, Any], score: float | None) -> None:
        """Save weights + trainer state as checkpoint ``step`` and prune old ones; ``score``
        ranks it among the kept checkpoints (None: unranked)."""
        summary = {k: float(metrics[k]) for k in CHECKPOINT_METRICS if metrics.get(k) is not None}
        self.checkpoints.save(step, summary, score, self._trainer_state())

    def _trainer_state(self) -> dict[str, Any]:
        return {
            "loop": vars(self.state).copy(),
            "learner": self.learner.state_dict(),
            "stopping": self.stopping.state_dict(),
            "alarms": self.watch.state_dict(),
        }

    def _resume(self, src_dir: Path) -> None:
        state = self.checkpoints.resume(src_dir)
        self.learner.load_state_dict(state["learner"])
        self.stopping.load_state_dict(state["stopping"])
        self.watch.load_state_dict(state.get("alarms") or {"history": [], "active": []})
        self.state = LoopState(**state["loop"])

    def _finish(self, outcome: Outcome) -> None:
        runtime = self.roles.runtime
        csv_bytes = results_csv(self.state.results or [])
        runtime.add_result_file(self.job_id, RESULTS_FILENAME, csv_bytes)
        if (logs := self.grader_logs.jsonl()) is not None:
            runtime.add_result_file(self.job_id, GRADER_LOGS_FILENAME, logs)
        for observer in self.roles.observers:
            observer.on_finish(outcome)
        if outcome != "succeeded":
            runtime.finish(self.job_id, outcome)
            return
        best = self.checkpoints.keeper.best_step()
        last = (self.state.results or [{}])[-1].get("valid_reward_mean")
        if last is not None and self.state.baseline_reward is not None:
            change = last - self.state.baseline_reward
            self._event(
                f"Final evaluation after step {self.state.step}: mean validation reward "
                f"{last:.4f} (baseline {self.state.baseline_reward:.4f}, change {change:+.4f}). "
                f"Best checkpoint: step {best}."
            )
        runtime.finish(self.job_id, "succeeded", fine_tuned_step=best)

    def _encode(self, rows: Sequence[Row], kind: str) -> list[tuple[Row, list[int]]]:
        """(row, prompt ids) for rows whose prompt fits; one event lists the skipped rows."""
        limit = self.config.max_prompt_tokens
        kept, skipped = [], []
        for index, row in enumerate(rows):
            ids = self.roles.codec.encode_prompt(row["messages"], tools=row.get("tools"))
            if len(ids) > limit:
                skipped.append(index)
            else:
                kept.append((row, ids))
        if skipped:
            shown = ", ".join(str(i + 1) for i in skipped[:10])
            shown += ", ..." if len(skipped) > 10 else ""
            self._event(
                f"Skipped {len(skipped)} of {len(rows)} {kind} rows whose prompt is longer than "
                f"max_prompt_tokens={limit} tokens (rows {shown}).",
                level="warn",
            )
        return kept

    def _event(
        self, message: str, *, level: str = "info", data: dict[str, Any] | None = None
    ) -> None:
        self.roles.runtime.add_event(self.job_id, message, level=level, data=data)


def clipped_ratio(groups: Sequence[GroupRollout]) -> float:
    """Fraction of completions cut at ``max_completion_tokens`` (TRL's
    ``completions/clipped_ratio``): the truncation rate."""
    finishes = [c.finish_reason for g in groups for c in g.completions]
    return sum(f == "length" for f in finishes) / max(len(finishes), 1)
