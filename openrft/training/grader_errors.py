"""When grader errors stop training: the step's error rate against ``max_grader_error_rate``."""

from __future__ import annotations

from typing import Any

from openrft.training.grading import GradedBatch


class GraderErrorRateExceeded(Exception):
    """Too many samples of a training step could not be graded: pause instead of training."""

    def __init__(self, message: str, data: dict[str, Any]):
        super().__init__(message)
        self.message = message
        self.data = data


def check_step_errors(step: int, graded: GradedBatch, limit: float) -> None:
    """Raise ``GraderErrorRateExceeded`` when more than ``limit`` of the step's samples erred."""
    if graded.error_rate <= limit:
        return
    failed = int((~graded.graded).sum())
    raise GraderErrorRateExceeded(
        f"Paused before training step {step}: the grader failed on {failed} of "
        f"{graded.graded.numel()} samples ({graded.error_rate:.0%}, above "
        f"max_grader_error_rate={limit:g}) after retrying them, so the step was not trained "
        f"on. Errors: {graded.quoted_errors()}. Fix the grader (or what it calls) and resume "
        "the job, or cancel it.",
        error_data(step, graded, limit),
    )


def error_data(step: int, graded: GradedBatch, limit: float) -> dict[str, Any]:
    """The event ``data`` of a grader-error event: rates, counts and the distinct errors."""
    return {
        "step": step,
        "grader_error_rate": graded.error_rate,
        "max_grader_error_rate": limit,
        "samples": graded.graded.numel(),
        "errors": [{"message": text, "count": n} for text, n in graded.errors.most_common(10)],
        "grader_logs": graded.error_logs(),
    }


def eval_error_warning(phase: str, error_rate: float, quoted: str, limit: float) -> str | None:
    """A warning for an evaluation whose error rate passed ``limit`` (None when it did not)."""
    if error_rate <= limit:
        return None
    return (
        f"{phase}: the grader failed on {error_rate:.0%} of the validation samples (above "
        f"max_grader_error_rate={limit:g}); they are left out of the validation reward. "
        f"Errors: {quoted}."
    )
