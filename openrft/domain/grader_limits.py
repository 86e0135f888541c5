"""The operator's caps on what a grader may be: template and render sizes, code size, and how
long a Lambda grader may keep a job waiting. Each is a setting; a refusal names it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GraderLimits:
    """Sizes in characters or bytes, times in seconds."""

    template_chars: int = 64 * 1024
    render_chars: int = 1024 * 1024
    source_bytes: int = 256 * 1024
    # AWS Lambda's own 15-minute ceiling; retries bound how long one batch may hold a job slot.
    lambda_timeout_s: float = 900.0
    lambda_retries: int = 10


DEFAULT_GRADER_LIMITS = GraderLimits()

# The setting behind each field, as an operator would change it.
_SETTINGS = {
    "template_chars": "max_template_chars",
    "render_chars": "max_render_chars",
    "source_bytes": "max_grader_source_bytes",
    "lambda_timeout_s": "max_lambda_timeout_s",
    "lambda_retries": "max_lambda_retries",
}


def setting_hint(field: str) -> str:
    """``"--max-template-chars / OPENRFT_MAX_TEMPLATE_CHARS"`` for ``"template_chars"``."""
    name = _SETTINGS[field]
    return f"--{name.replace('_', '-')} / OPENRFT_{name.upper()}"
