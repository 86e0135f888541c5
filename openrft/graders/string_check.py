"""``string_check``: 1.0 or 0.0 from comparing two rendered templates."""

from __future__ import annotations

from typing import Any

from openrft.graders.base import PerItemGrader
from openrft.graders.fields import require_choice, require_template
from openrft.graders.registry import register_grader
from openrft.graders.templating import render_template
from openrft.graders.types import ValidationContext

OPERATIONS = ("eq", "ne", "like", "ilike")


def validate_string_check(
    spec: dict[str, Any], param: str, ctx: ValidationContext
) -> dict[str, Any]:
    return {
        "input": require_template(spec, "input", param, ctx.limits),
        "reference": require_template(spec, "reference", param, ctx.limits),
        "operation": require_choice(spec, "operation", OPERATIONS, param),
    }


def compare(operation: str, text: str, reference: str) -> bool:
    """``eq``/``ne`` exact (case-sensitive); ``like`` contains; ``ilike`` contains, any case."""
    if operation == "eq":
        return text == reference
    if operation == "ne":
        return text != reference
    if operation == "like":
        return reference in text
    return reference.casefold() in text.casefold()


@register_grader("string_check", validate=validate_string_check)
class StringCheckGrader(PerItemGrader):
    type = "string_check"

    def score(self, namespaces: dict[str, Any]) -> float:
        cap = self.ctx.limits.render_chars
        text = render_template(self.spec["input"], namespaces, cap)
        reference = render_template(self.spec["reference"], namespaces, cap)
        return 1.0 if compare(self.spec["operation"], text, reference) else 0.0
