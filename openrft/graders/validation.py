"""Entry points: ``validate_grader`` at job-create time, ``build_grader`` in the worker."""

from __future__ import annotations

from typing import Any

from openrft.graders.registry import build_spec, validate_spec
from openrft.graders.types import Grader, GraderContext, ValidationContext


def validate_grader(
    spec: Any, *, param: str = "grader", ctx: ValidationContext | None = None
) -> dict[str, Any]:
    """Check a grader spec and return the normalized spec to store.

    Raises ``InvalidRequestError`` whose ``param`` names the field, e.g.
    ``method.reinforcement.grader.calculate_output``. ``ctx`` says where Lambda handlers may come
    from and which URLs they may name (default: no handler files, public URLs only).
    """
    return validate_spec(spec, param=param, ctx=ctx or ValidationContext(), top_level=True)


def build_grader(spec: dict[str, Any], ctx: GraderContext) -> Grader:
    """Build a ready-to-use grader from a spec returned by ``validate_grader``."""
    return build_spec(spec, ctx)
