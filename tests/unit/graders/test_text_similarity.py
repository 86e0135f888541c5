from __future__ import annotations

import math

import pytest

from openrft.graders import GraderContext, build_grader, validate_grader
from openrft.graders.similarity_metrics import METRICS
from tests.unit.graders.conftest import make_request


@pytest.mark.parametrize(
    ("metric", "text", "reference", "expected"),
    [
        ("fuzzy_match", "HELLO world", "hello world", 1.0),
        ("fuzzy_match", "abcd", "abce", 0.75),
        ("bleu", "the cat sat on the mat", "the cat sat on the mat", 1.0),
        # sacrebleu: 2 of 2 n-grams match but brevity penalty exp(1 - 6/2).
        ("bleu", "the cat", "the cat sat on the mat", math.exp(-2)),
        ("gleu", "the cat", "the cat", 1.0),
        ("gleu", "a b", "c d", 0.0),
        ("rouge_1", "the cat sat", "the cat", 0.8),
        ("rouge_2", "the cat sat", "the cat", 2 / 3),
        ("rouge_5", "the cat sat", "the cat", 0.0),
        ("rouge_l", "the cat", "the cat", 1.0),
        # P = R = 1, one chunk of 3 matches: 1 - 0.5 * (1/3)^3.
        ("meteor", "the cat sat", "the cat sat", 1 - 1 / 54),
        ("meteor", "the cats sat", "the cat sat", 1 - 1 / 54),  # Porter-stem match
        ("meteor", "dog", "cat", 0.0),
    ],
)
def test_metrics_hand_checked(metric: str, text: str, reference: str, expected: float) -> None:
    assert math.isclose(METRICS[metric](text, reference), expected, rel_tol=1e-6, abs_tol=1e-9)


async def test_cosine_ranks_paraphrase_above_unrelated_in_one_batch() -> None:
    spec = {
        "type": "text_similarity",
        "input": "{{sample.output_text}}",
        "reference": "{{item.ref}}",
        "evaluation_metric": "cosine",
    }
    grader = build_grader(validate_grader(spec), GraderContext())
    guitar = {"ref": "A man is playing guitar."}
    same, missing, close, far = await grader.grade(
        [
            make_request("A man is playing guitar.", guitar),
            make_request("A man is playing guitar.", {}),
            make_request("Someone plays the guitar.", guitar),
            make_request("Stock prices fell sharply today.", guitar),
        ]
    )
    assert same.reward == pytest.approx(1.0, abs=1e-5)
    assert close.reward > 0.5 > far.reward
    assert missing.errors["invalid_variable_error"] is True
    single = METRICS["cosine"]("Someone plays the guitar.", "A man is playing guitar.")
    assert single == pytest.approx(close.reward, abs=1e-5)


async def test_grader_renders_templates_and_flags_missing() -> None:
    spec = {
        "type": "text_similarity",
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
        "evaluation_metric": "rouge_1",
    }
    grader = build_grader(validate_grader(spec), GraderContext())
    ok, missing = await grader.grade(
        [make_request("the cat sat", {"answer": "the cat"}), make_request("x", {})]
    )
    assert ok.reward == pytest.approx(0.8)
    assert missing.reward == 0.0 and missing.errors["invalid_variable_error"] is True
