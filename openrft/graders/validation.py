"""Entry points: ``validate_grader`` at job-create time, ``build_grader`` in the worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openrft.graders.registry import build_spec, validate_spec
from openrft.graders.types import Grader, GraderContext


def validate_grader(
    spec: Any, *, param: str = "grader", base_dir: Path | None = None
) -> dict[str, Any]:
    """Check a grader spec and return the normalized spec to store.

    Raises ``InvalidRequestError`` whose ``param`` names the field, e.g.
    ``method.reinforcement.grader.calculate_output``. ``base_dir`` resolves relative Lambda
    ``file.py:handler`` paths (default: the current directory).
    """
    return validate_spec(spec, param=param, base_dir=base_dir, top_level=True)


def build_grader(spec: dict[str, Any], ctx: GraderContext) -> Grader:
    """Build a ready-to-use grader from a spec returned by ``validate_grader``."""
    return build_spec(spec, ctx)
