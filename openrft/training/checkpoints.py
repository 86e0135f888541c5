"""Checkpoints: write one (weights + trainer state), register it, keep the best 3 + the latest."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

TRAINER_STATE_FILE = "trainer_state.pt"
KEEP_BEST = 3


class CheckpointStore(Protocol):
    """The checkpoint half of ``JobRuntime``."""

    def add_checkpoint(
        self, job_id: str, step: int, metrics: dict[str, float], src_dir: Path
    ) -> str: ...

    def delete_checkpoint(self, job_id: str, step: int) -> None: ...


@dataclass(frozen=True)
class SavedCheckpoint:
    step: int
    valid_reward: float | None  # None: saved without evaluation (pause)


class CheckpointKeeper:
    """Writes checkpoints through a scratch dir and prunes to the best ``KEEP_BEST`` by
    validation reward plus the latest."""

    def __init__(self, store: CheckpointStore, job_id: str, scratch_dir: Path):
        self.store = store
        self.job_id = job_id
        self.scratch_dir = scratch_dir
        self.kept: list[SavedCheckpoint] = []

    def save(
        self,
        step: int,
        metrics: dict[str, float],
        write: Callable[[Path], None],
        valid_reward: float | None,
    ) -> str:
        """``write(dir)`` fills a fresh dir; it is registered as checkpoint ``step``."""
        tmp = self.scratch_dir / f"step-{step}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            write(tmp)
            model_id = self.store.add_checkpoint(self.job_id, step, metrics, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.kept = [c for c in self.kept if c.step != step]
        self.kept.append(SavedCheckpoint(step, valid_reward))
        self._prune()
        return model_id

    def _prune(self) -> None:
        latest = max(c.step for c in self.kept)
        keep = {c.step for c in self._ranked()[:KEEP_BEST]} | {latest}
        for c in [c for c in self.kept if c.step not in keep]:
            self.store.delete_checkpoint(self.job_id, c.step)
        self.kept = [c for c in self.kept if c.step in keep]

    def _ranked(self) -> list[SavedCheckpoint]:
        """Evaluated checkpoints, best validation reward first (ties: the later step)."""
        scored = [c for c in self.kept if c.valid_reward is not None]
        return sorted(scored, key=lambda c: (c.valid_reward, c.step), reverse=True)

    def best_step(self) -> int | None:
        """The step of the best evaluated checkpoint (the latest when none was evaluated)."""
        ranked = self._ranked()
        if ranked:
            return ranked[0].step
        return max((c.step for c in self.kept), default=None)

    def state_dict(self) -> list[tuple[int, float | None]]:
        return [(c.step, c.valid_reward) for c in self.kept]

    def load_state_dict(self, state: list[tuple[int, float | None]]) -> None:
        self.kept = [SavedCheckpoint(step, reward) for step, reward in state]


def save_trainer_state(out_dir: Path, state: dict[str, Any]) -> None:
    """``trainer_state.pt``: optimizer, scheduler, RNG, step and loop state (torch.save)."""
    torch.save(state, out_dir / TRAINER_STATE_FILE)


def load_trainer_state(src_dir: Path) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(src_dir / TRAINER_STATE_FILE, weights_only=False)
    return state


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state()}


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])


class LoopRuntime(CheckpointStore, Protocol):
    """What ``LoopCheckpoints`` needs from ``JobRuntime``: checkpoints and events."""

    def add_event(
        self, job_id: str, message: str, *, data: dict[str, Any] | None = ...
    ) -> None: ...


class TrainedWeights(Protocol):
    """The trained weights of a loop (``Policy``): written into and read from a checkpoint."""

    def save(self, out_dir: Path) -> None: ...

    def load_weights(self, src_dir: Path) -> None: ...


class LoopCheckpoints:
    """Checkpoint, pause and resume of one job's training loop (GRPO, supervised or DPO).

    A checkpoint holds the weights and ``trainer_state.pt``: the loop's own state (its ``loop``
    entry carries ``step``) plus the RNG and the kept checkpoints' ranking, so a resumed loop
    continues exactly. ``score`` ranks checkpoints (higher is better; None: unranked).
    """

    def __init__(
        self, runtime: LoopRuntime, job_id: str, scratch_dir: Path, weights: TrainedWeights
    ):
        self.runtime = runtime
        self.job_id = job_id
        self.weights = weights
        self.keeper = CheckpointKeeper(runtime, job_id, scratch_dir)

    def save(
        self, step: int, summary: dict[str, float], score: float | None, state: dict[str, Any]
    ) -> None:
        """Write checkpoint ``step`` (``summary``: its metrics) and prune old ones."""
        previous = [saved for saved in self.keeper.state_dict() if saved[0] != step]

        def write(out_dir: Path) -> None:
            self.weights.save(out_dir)
            keeper = [*previous, (step, score)]
            save_trainer_state(out_dir, {**state, "rng": rng_state(), "keeper": keeper})

        model_id = self.keeper.save(step, summary, write, score)
        self.runtime.add_event(
            self.job_id, f"Checkpoint saved at step {step}: {model_id}", data=summary
        )

    def pause(self, step: int, state: dict[str, Any]) -> None:
        """Make sure the state after ``step`` is the latest checkpoint, then say so."""
        if not any(saved.step == step for saved in self.keeper.kept):
            self.save(step, {"step": float(step)}, None, state)
        self.runtime.add_event(
            self.job_id, f"Paused after step {step}; resuming continues from step {step + 1}."
        )

    def resume(self, src_dir: Path) -> dict[str, Any]:
        """Load the weights, RNG and ranking of a checkpoint; its trainer state for the loop's
        own parts (``loop``, ``learner``, ...)."""
        state = load_trainer_state(src_dir)
        self.weights.load_weights(src_dir)
        restore_rng_state(state["rng"])
        self.keeper.load_state_dict(state["keeper"])
        self.runtime.add_event(
            self.job_id, f"Resumed from the checkpoint of step {state['loop']['step']}."
        )
        return state
