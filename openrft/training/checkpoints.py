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
