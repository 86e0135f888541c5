"""Entry points: ``validate_grader`` at job-create time, ``build_grader`` in the worker."""

from __future__ import annotations

from typing import Any

from openrft.graders.registry import build_spec, validate_spec
from openrft.graders.sandbox.launch import detect_isolation
from openrft.graders.types import Grader, GraderContext, ValidationContext


def validate_grader(
    spec: Any, *, param: str = "grader", ctx: ValidationContext | None = None
) -> dict[str, Any]:
    """Check a grader spec and return the normalized spec to store.

    Raises ``InvalidRequestError`` whose ``param`` names the field, e.g.
    ``method.reinforcement.grader.calculate_output``. ``ctx`` says where Lambda handlers may come
    from and which URLs they may name (default: no handler files, public URLs only).
    """
    ctx = ctx or ValidationContext()
    normalized = validate_spec(spec, param=param, ctx=ctx, top_level=True)
    check_sandbox(normalized, ctx)
    return normalized


def runs_user_code(spec: Any) -> bool:
    """Whether a normalized grader or tool provider list holds code for the sandbox: a python
    grader or tool, or a Lambda handler file (``_source``), at any depth."""
    if isinstance(spec, dict):
        if spec.get("type") == "python" or "_source" in spec:
            return True
        return any(runs_user_code(value) for value in spec.values())
    if isinstance(spec, list):
        return any(runs_user_code(value) for value in spec)
    return False


def check_sandbox(spec: Any, ctx: ValidationContext) -> None:
    """SandboxUnavailableError (a 400) when ``spec`` needs the sandbox and the operator's mode
    does not work on this machine: refused now, not when the job runs."""
    if ctx.sandbox is not None and runs_user_code(spec):
        detect_isolation(ctx.sandbox)


def build_grader(spec: dict[str, Any], ctx: GraderContext) -> Grader:
    """Build a ready-to-use grader from a spec returned by ``validate_grader``."""
    return build_spec(spec, ctx)
