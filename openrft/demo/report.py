"""Rich tables printed by the demo: checkpoints, and the base-vs-tuned comparison."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from openrft.demo.evaluation import Comparison
from openrft.domain.stats import Estimate


def _pct(estimate: Estimate) -> str:
    return f"{100 * estimate.value:.1f}% [{100 * estimate.low:.1f}, {100 * estimate.high:.1f}]"


def _gain(estimate: Estimate) -> str:
    return f"{100 * estimate.value:+.1f} [{100 * estimate.low:.1f}, {100 * estimate.high:.1f}]"


def comparison_table(comparison: Comparison) -> Table:
    """Accuracy and format rate of both models with 95% intervals, and the paired gains."""
    n = len(comparison.base.correct)
    table = Table(
        title=f"GSM8K held-out test questions (n={n}), greedy; [95% interval]",
        caption=f"base = {comparison.base.model}\ntuned = {comparison.tuned.model}",
    )
    for header in ("metric", "base", "tuned", "tuned − base (pts)", "> 0?"):
        table.add_column(header, no_wrap=True)
    rows = [
        (
            "accuracy",
            comparison.base.accuracy(),
            comparison.tuned.accuracy(),
            comparison.accuracy_gain(),
        ),
        (
            "format",
            comparison.base.format_rate(),
            comparison.tuned.format_rate(),
            comparison.format_gain(),
        ),
    ]
    for name, base, tuned, gain in rows:
        verdict = "[green]yes[/]" if gain.low > 0 else "no"
        table.add_row(name, _pct(base), _pct(tuned), _gain(gain), verdict)
    return table


def _mean(side: dict[str, Any]) -> str:
    ci = side.get("ci95")
    shown = f"{side['reward_mean']:.3f}"
    return shown + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def print_job_report(console: Console, report: dict[str, Any]) -> None:
    """The job's own before/after report: mean validation reward, base vs chosen checkpoint."""
    table = Table(
        title=f"Job report: {report['n_items']} validation items x {report['samples_per_item']} "
        "samples, same prompts and seeds; [95% interval]",
        caption=report["note"],
    )
    for header in ("model", "mean reward", "wins / losses / ties"):
        table.add_column(header)
    table.add_row(report["base_model"], _mean(report["base"]), "")
    table.add_row(f"step {report['step']}", _mean(report["tuned"]), "")
    wlt = f"{report['wins']} / {report['losses']} / {report['ties']}"
    table.add_row("difference", _mean(report["difference"]), wlt)
    console.print(table)


def print_comparison(console: Console, comparison: Comparison) -> None:
    console.print(comparison_table(comparison))


def print_checkpoints(console: Console, checkpoints: list[Any]) -> None:
    """One line per checkpoint: step, model id and its metrics (SDK checkpoint objects)."""
    table = Table(title="Checkpoints")
    table.add_column("step", justify="right")
    table.add_column("model", overflow="fold")
    table.add_column("metrics")
    for checkpoint in sorted(checkpoints, key=lambda c: c.step_number):
        metrics = checkpoint.metrics.model_dump(exclude_none=True) if checkpoint.metrics else {}
        shown = ", ".join(f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, float))
        table.add_row(str(checkpoint.step_number), checkpoint.fine_tuned_model_checkpoint, shown)
    console.print(table)
