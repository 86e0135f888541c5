"""Early stopping on the validation reward: patience / min_delta, or a target reward."""

from __future__ import annotations

from dataclasses import dataclass

from openrft.training.config import EarlyStoppingConfig


@dataclass
class EarlyStopping:
    """Feed each validation reward to ``update``; it returns why to stop, or None.

    The baseline (before step 1) counts as the first evaluation: a run that never beats it by
    ``min_delta`` for ``patience`` evaluations stops.
    """

    config: EarlyStoppingConfig
    best: float | None = None
    evals_without_improvement: int = 0

    def update(self, valid_reward: float) -> str | None:
        cfg = self.config
        if self.best is None or valid_reward > self.best + cfg.min_delta:
            self.best = valid_reward
            self.evals_without_improvement = 0
        else:
            self.evals_without_improvement += 1
        if cfg.target_reward is not None and valid_reward >= cfg.target_reward:
            return (
                f"validation reward {valid_reward:.4f} reached the target_reward "
                f"{cfg.target_reward:g}"
            )
        if self.evals_without_improvement >= cfg.patience:
            return (
                f"validation reward has not improved by more than min_delta={cfg.min_delta:g} "
                f"over the best {self.best:.4f} for {cfg.patience} evaluations"
            )
        return None

    def state_dict(self) -> dict[str, float | int | None]:
        return {"best": self.best, "evals_without_improvement": self.evals_without_improvement}

    def load_state_dict(self, state: dict[str, float | int | None]) -> None:
        best = state.get("best")
        self.best = None if best is None else float(best)
        self.evals_without_improvement = int(state.get("evals_without_improvement") or 0)
