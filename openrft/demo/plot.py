"""The demo's reward-curve PNG: train and validation reward against the training step."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def reward_series(
    metrics: dict[int, dict[str, Any]],
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """``(train, valid)`` as sorted ``(step, reward)`` points; valid only where evaluated."""
    train, valid = [], []
    for step in sorted(metrics):
        data = metrics[step]
        if data.get("train_reward_mean") is not None:
            train.append((step, float(data["train_reward_mean"])))
        if data.get("valid_reward_mean") is not None:
            valid.append((step, float(data["valid_reward_mean"])))
    return train, valid


def plot_reward_curve(metrics: dict[int, dict[str, Any]], path: Path, title: str) -> Path:
    """Save the reward curve of per-step job metrics (``{step: event data}``) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, valid = reward_series(metrics)
    figure, axes = plt.subplots(figsize=(7, 4), dpi=120)
    if train:
        axes.plot(*zip(*train, strict=True), marker=".", label="train reward (mean)")
    if valid:
        axes.plot(*zip(*valid, strict=True), marker="o", label="validation reward (mean)")
    axes.set_xlabel("training step")
    axes.set_ylabel("reward")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if train or valid:
        axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
