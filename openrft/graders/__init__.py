"""Graders and reward functions: every OpenAI grader type, Bedrock Lambda rewards, a sandbox.

Importing this package registers every grader type; heavy libraries load on first use.
"""

from openrft.graders import (
    lambda_grader,
    model_grader,
    multi,
    python_grader,
    string_check,
    text_similarity,
)
from openrft.graders.stats import error_rate, mean_metrics
from openrft.graders.types import (
    ERROR_KEYS,
    Grader,
    GraderContext,
    GradeResult,
    GradingFailedError,
    GradingRequest,
    SandboxLimits,
    ValidationContext,
)
from openrft.graders.validation import build_grader, validate_grader

__all__ = [
    "ERROR_KEYS",
    "GradeResult",
    "Grader",
    "GraderContext",
    "GradingFailedError",
    "GradingRequest",
    "SandboxLimits",
    "ValidationContext",
    "build_grader",
    "error_rate",
    "lambda_grader",
    "mean_metrics",
    "model_grader",
    "multi",
    "python_grader",
    "string_check",
    "text_similarity",
    "validate_grader",
]
