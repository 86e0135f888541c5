"""The supervised and DPO loop of one job, on the GRPO loop's jobs, events and checkpoints.

    baseline validation loss → for each step: control check → loss over the step's rows →
    one optimizer step → (validation → checkpoint) → metrics event → … → finish

The objective is the only difference between the two methods: supervised minimises the mean
negative log-likelihood of the learned tokens; DPO the mean ``rl.dpo_loss`` of the preference
pairs against the reference model (the adapter switched off). Checkpoints are ranked by
validation loss (lower is better); the best one becomes the fine-tuned model.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from openrft.rl import dpo_loss
from openrft.threads import fit_threads
from openrft.training.checkpoints import LoopCheckpoints
from openrft.training.config import TrainConfig
from openrft.training.controller import (
    RESULTS_FILENAME,
    Outcome,
    StepObserver,
    TrainingRuntime,
)
from openrft.training.data import step_batches, steps_per_epoch
from openrft.training.policy import Policy
from openrft.training.results import results_csv
from openrft.training.scoring import GroupTokens, group_logprobs
from openrft.training.update import Optimization

CHECKPOINT_METRICS = ("step", "train_loss", "valid_loss")


class Objective(Protocol):
    """One method's loss. ``key`` names an example for caches (split and index)."""

    def count(self, tokens: GroupTokens) -> float:
        """What the loss of ``tokens`` is averaged over (learned tokens, or pairs)."""
        ...

    def loss(self, key: tuple[str, int], tokens: GroupTokens) -> tuple[torch.Tensor, dict]:
        """The summed loss of one example and its summed metrics (``loss`` included)."""
        ...


class SupervisedObjective:
    """Negative log-likelihood of the learned tokens (mask 1), averaged over those tokens."""

    def __init__(self, policy: Policy):
        self.policy = policy

    def count(self, tokens: GroupTokens) -> float:
        return float(tokens.mask.sum())

    def loss(self, key: tuple[str, int], tokens: GroupTokens) -> tuple[torch.Tensor, dict]:
        logp, _ = group_logprobs(self.policy.causal_lm, tokens, temperature=1.0)
        nll = -(logp * tokens.mask).sum()
        return nll, {"loss": float(nll.detach())}


class PreferenceObjective:
    """DPO on (preferred, non-preferred) pairs; reference log-probs are computed once per
    example (the reference never changes) and kept."""

    def __init__(self, policy: Policy, beta: float):
        self.policy = policy
        self.beta = beta
        self.reference: dict[tuple[str, int], torch.Tensor] = {}

    def count(self, tokens: GroupTokens) -> float:
        return 1.0

    def _sequence_logp(self, causal_lm: Any, tokens: GroupTokens) -> torch.Tensor:
        logp, _ = group_logprobs(causal_lm, tokens, temperature=1.0)
        return (logp * tokens.mask).sum(-1)  # (2,): preferred, non-preferred

    def loss(self, key: tuple[str, int], tokens: GroupTokens) -> tuple[torch.Tensor, dict]:
        if key not in self.reference:
            with torch.no_grad(), self.policy.reference() as ref_lm:
                self.reference[key] = self._sequence_logp(ref_lm, tokens)
        ref = self.reference[key]
        seq = self._sequence_logp(self.policy.causal_lm, tokens)
        losses, metrics = dpo_loss(seq[:1], seq[1:], ref[:1], ref[1:], self.beta)
        total = losses.sum()
        return total, {"loss": float(total.detach()), **metrics}


@dataclass
class TuningState:
    """What a checkpoint must carry to resume the loop exactly."""

    step: int = 0
    trained_tokens: int = 0
    baseline_loss: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


class TuningController:
    """Runs (or resumes) one supervised or DPO job and reports through the runtime."""

    def __init__(
        self,
        job_id: str,
        config: TrainConfig,
        objective: Objective,
        policy: Policy,
        runtime: TrainingRuntime,
        examples: tuple[Sequence[GroupTokens], Sequence[GroupTokens]],  # (train, valid)
        scratch_dir: Path,
        observers: Sequence[StepObserver] = (),
    ):
        """``observers``: the job's experiment trackers (step metrics and the end)."""
        self.job_id = job_id
        self.config = config
        self.observers = observers
        self.objective = objective
        self.policy = policy
        self.runtime = runtime
        self.train, self.valid = examples
        self.state = TuningState()
        self.checkpoints = LoopCheckpoints(runtime, job_id, scratch_dir, policy)
        per_epoch = steps_per_epoch(len(self.train), config.batch_size)
        self.total_steps = min(per_epoch * config.n_epochs, config.max_steps or 1 << 62)
        batches = step_batches(len(self.train), config.batch_size, config.seed, config.n_epochs)
        self.plan = [rows for _, rows in batches][: self.total_steps]
        self.optimization = Optimization(policy, config, self.total_steps)
        self.step_times: list[float] = []

    def run(self, resume_from: Path | None = None) -> Outcome:
        """Train to the end (or cancel, pause) and finish the job."""
        if resume_from is not None:
            self._resume(resume_from)
        else:
            self._baseline()
        outcome = self._train()
        self._finish(outcome)
        return outcome

    def _train(self) -> Outcome:
        for step in range(self.state.step + 1, self.total_steps + 1):
            control = self.runtime.control_request(self.job_id)
            if control == "cancel":
                self._event(f"Cancelled before step {step}.")
                return "cancelled"
            if control == "pause":
                self.checkpoints.pause(self.state.step, self._trainer_state())
                return "paused"
            metrics = self._train_step(step)
            evaluated = step % self.config.eval_interval == 0 or step == self.total_steps
            if evaluated:
                metrics.update(self._evaluate())
            self._log_step(step, metrics)
            if evaluated:
                self._checkpoint(step, metrics, -metrics["valid_loss"])
        self._event(f"Training finished: all {self.total_steps} steps done.")
        return "succeeded"

    def _train_step(self, step: int) -> dict[str, Any]:
        started = time.monotonic()
        rows = self.plan[step - 1]
        count = sum(self.objective.count(self.train[i]) for i in rows)
        sums: dict[str, float] = defaultdict(float)
        self.optimization.zero_grad()
        for i in rows:
            fit_threads()
            loss, metrics = self.objective.loss(("train", i), self.train[i])
            (loss / max(count, 1.0)).backward()
            for key, value in metrics.items():
                sums[key] += value
        grad_norm = self.optimization.step()
        self.state.trained_tokens += sum(self.train[i].num_tokens for i in rows)
        self.step_times.append(time.monotonic() - started)
        return {
            "step": step,
            "total_steps": self.total_steps,
            **{f"train_{key}": value / max(count, 1.0) for key, value in sums.items()},
            "actor_grad_norm": grad_norm,
            "actor_lr": self.optimization.last_lr,
            "step_time_s": self.step_times[-1],
        }

    def _evaluate(self) -> dict[str, float]:
        """Mean validation loss (and metrics) over every validation example."""
        count = sum(self.objective.count(tokens) for tokens in self.valid)
        sums: dict[str, float] = defaultdict(float)
        with torch.no_grad():
            for i, tokens in enumerate(self.valid):
                for key, value in self.objective.loss(("valid", i), tokens)[1].items():
                    sums[key] += value
        return {f"valid_{key}": value / max(count, 1.0) for key, value in sums.items()}

    def _baseline(self) -> None:
        metrics = self._evaluate()
        self.state.baseline_loss = metrics["valid_loss"]
        self.state.results.append({"step": 0, **metrics})
        self._event(
            f"Baseline evaluation before step 1: validation loss {metrics['valid_loss']:.4f} "
            f"over {len(self.valid)} examples.",
            data={"step": 0, "phase": "baseline", **metrics},
        )

    def _log_step(self, step: int, metrics: dict[str, Any]) -> None:
        message = f"Step {step}/{self.total_steps}: training loss={metrics['train_loss']:.4f}"
        if "valid_loss" in metrics:
            message += f", validation loss={metrics['valid_loss']:.4f}"
        self.state.step = step
        self.state.results.append(dict(metrics))
        self.runtime.add_event(self.job_id, message, type="metrics", data=dict(metrics))
        for observer in self.observers:
            observer.on_step(step, dict(metrics))
        mean_step = sum(self.step_times) / len(self.step_times)
        self.runtime.update_progress(
            self.job_id,
            trained_tokens=self.state.trained_tokens,
            estimated_finish=int(time.time() + (self.total_steps - step) * mean_step),
        )

    def _checkpoint(self, step: int, metrics: dict[str, Any], score: float | None) -> None:
        """Save weights + trainer state as checkpoint ``step``; ``score`` ranks it (higher
        is better, None: unranked)."""
        summary = {k: float(metrics[k]) for k in CHECKPOINT_METRICS if k in metrics}
        self.checkpoints.save(step, summary, score, self._trainer_state())

    def _trainer_state(self) -> dict[str, Any]:
        return {"loop": vars(self.state).copy(), "learner": self.optimization.state_dict()}

    def _resume(self, src_dir: Path) -> None:
        state = self.checkpoints.resume(src_dir)
        self.optimization.load_state_dict(state["learner"])
        self.state = TuningState(**state["loop"])

    def _finish(self, outcome: Outcome) -> None:
        self.runtime.add_result_file(self.job_id, RESULTS_FILENAME, results_csv(self.state.results))
        for observer in self.observers:
            observer.on_finish(outcome)
        if outcome != "succeeded":
            self.runtime.finish(self.job_id, outcome)
            return
        best = self.checkpoints.keeper.best_step()
        last = self.state.results[-1].get("valid_loss")
        if last is not None and self.state.baseline_loss is not None:
            self._event(
                f"Final validation loss after step {self.state.step}: {last:.4f} (baseline "
                f"{self.state.baseline_loss:.4f}, change {last - self.state.baseline_loss:+.4f})."
                f" Best checkpoint: step {best}."
            )
        self.runtime.finish(self.job_id, "succeeded", fine_tuned_step=best)

    def _event(
        self, message: str, *, level: str = "info", data: dict[str, Any] | None = None
    ) -> None:
        self.runtime.add_event(self.job_id, message, level=level, data=data)
