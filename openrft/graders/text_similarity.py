"""``text_similarity``: a similarity metric between two rendered templates, in [0, 1]."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from openrft.graders.base import PerItemGrader
from openrft.graders.fields import require_choice, require_template
from openrft.graders.registry import register_grader
from openrft.graders.similarity_metrics import METRICS, cosine_batch
from openrft.graders.templating import MissingVariableError, render_template, request_namespaces
from openrft.graders.types import GraderContext, GradeResult, GradingRequest, ValidationContext

EVALUATION_METRICS = (
    "cosine",
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)


def validate_text_similarity(
    spec: dict[str, Any], param: str, ctx: ValidationContext
) -> dict[str, Any]:
    return {
        "input": require_template(spec, "input", param, ctx.limits),
        "reference": require_template(spec, "reference", param, ctx.limits),
        "evaluation_metric": require_choice(spec, "evaluation_metric", EVALUATION_METRICS, param),
    }


@register_grader("text_similarity", validate=validate_text_similarity)
class TextSimilarityGrader(PerItemGrader):
    type = "text_similarity"
    blocking = True

    def __init__(self, spec: dict[str, Any], ctx: GraderContext) -> None:
        super().__init__(spec, ctx)
        self.metric = METRICS[spec["evaluation_metric"]]

    def score(self, namespaces: dict[str, Any]) -> float:
        return self.metric(*self.render(namespaces))

    def render(self, namespaces: dict[str, Any]) -> tuple[str, str]:
        """(text, reference); raises MissingVariableError."""
        cap = self.ctx.limits.render_chars
        text = render_template(self.spec["input"], namespaces, cap)
        return text, render_template(self.spec["reference"], namespaces, cap)

    def grade_all(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        """Cosine embeds the whole batch at once; other metrics go item by item."""
        if self.spec["evaluation_metric"] != "cosine":
            return super().grade_all(requests)
        start = time.perf_counter()
        pairs: list[tuple[str, str] | None] = []
        for request in requests:
            try:
                pairs.append(self.render(request_namespaces(request)))
            except MissingVariableError:
                pairs.append(None)
        scores = iter(cosine_batch([pair for pair in pairs if pair is not None]))
        per_item = (time.perf_counter() - start) / max(1, len(requests))
        results = []
        for pair in pairs:
            if pair is None:
                result = GradeResult.failed("invalid_variable_error")
            else:
                result = GradeResult(reward=next(scores))
            result.execution_time = per_item
            results.append(result)
        return results
