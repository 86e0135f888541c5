"""``text_similarity``: a similarity metric between two rendered templates, in [0, 1]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openrft.graders.base import PerItemGrader
from openrft.graders.fields import require_choice, require_template
from openrft.graders.registry import register_grader
from openrft.graders.similarity_metrics import METRICS
from openrft.graders.templating import render_template
from openrft.graders.types import GraderContext

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
    spec: dict[str, Any], param: str, base_dir: Path | None
) -> dict[str, Any]:
    return {
        "input": require_template(spec, "input", param),
        "reference": require_template(spec, "reference", param),
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
        text = render_template(self.spec["input"], namespaces)
        reference = render_template(self.spec["reference"], namespaces)
        return self.metric(text, reference)
