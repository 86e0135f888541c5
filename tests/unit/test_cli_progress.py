"""``openrft jobs follow``: rewards for reinforcement jobs, losses for supervised and DPO jobs."""

from __future__ import annotations

from rich.console import Console

from openrft.cli import Progress


def _rows(progress: Progress) -> str:
    console = Console(record=True, width=120)
    console.print(progress.render("ftjob-1"))
    return console.export_text()


def test_reinforcement_metrics_show_rewards() -> None:
    progress = Progress()
    progress.absorb_metrics({"step": 2, "total_steps": 4, "train_reward_mean": 0.5})
    text = _rows(progress)
    assert "train reward" in text and "0.5000" in text and "2/4" in text
    assert "loss" not in text


def test_supervised_metrics_show_losses() -> None:
    progress = Progress()
    progress.absorb_metrics({"step": 3, "total_steps": 3, "train_loss": 1.25, "valid_loss": 0.75})
    progress.absorb_metrics({"step": 4, "total_steps": 4, "train_loss": 1.0})
    text = _rows(progress)
    assert "train loss" in text and "1.0000" in text
    assert "valid loss" in text and "0.7500" in text
    assert "reward" not in text
