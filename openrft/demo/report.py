"""Rich tables printed by the demo: checkpoints, and the base-vs-tuned comparison."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from openrft.demo.evaluation import Comparison
from openrft.demo.stats import Estimate


def _pct(estimate: Estimate) -> str:
    return f"{100 * estimate.value:5.1f}%  [{100 * estimate.low:.1f}, {100 * estimate.high:.1f}]"


def _gain(estimate: Estimate) -> str:
    verdict = "excludes 0" if estimate.excludes_zero else "includes 0"
    return (
        f"{100 * estimate.value:+5.1f} pts  [{100 * estimate.low:+.1f}, "
        f"{100 * estimate.high:+.1f}]  {verdict}"
    )


def comparison_table(comparison: Comparison) -> Table:
    """Accuracy and format rate of both models with 95% intervals, and the paired gains."""
    n = len(comparison.base.correct)
    table = Table(title=f"GSM8K held-out questions (n={n}), greedy; 95% intervals")
    table.add_column("metric")
    table.add_column(f"base  {comparison.base.model}")
    table.add_column(f"tuned  {comparison.tuned.model}")
    table.add_column("tuned − base (paired)")
    table.add_row(
        "accuracy",
        _pct(comparison.base.accuracy()),
        _pct(comparison.tuned.accuracy()),
        _gain(comparison.accuracy_gain()),
    )
    table.add_row(
        "format rate",
        _pct(comparison.base.format_rate()),
        _pct(comparison.tuned.format_rate()),
        _gain(comparison.format_gain()),
    )
    return table


def print_comparison(console: Console, comparison: Comparison) -> None:
    console.print(comparison_table(comparison))


def print_checkpoints(console: Console, checkpoints: list[Any]) -> None:
    """One line per checkpoint: step, model id and its metrics (SDK checkpoint objects)."""
    table = Table(title="Checkpoints")
    table.add_column("step", justify="right")
    table.add_column("model")
    table.add_column("metrics")
    for checkpoint in sorted(checkpoints, key=lambda c: c.step_number):
        metrics = checkpoint.metrics.model_dump(exclude_none=True) if checkpoint.metrics else {}
        shown = ", ".join(f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, float))
        table.add_row(str(checkpoint.step_number), checkpoint.fine_tuned_model_checkpoint, shown)
    console.print(table)
