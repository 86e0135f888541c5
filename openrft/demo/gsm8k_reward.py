"""GSM8K reward in Amazon Bedrock's Lambda contract (standard library only).

The demo copies this file verbatim to ``<out-dir>/demo_reward.py`` and passes
``{"type": "lambda", "lambda": {"function": ".../demo_reward.py:lambda_handler"}}``, so it must
stay self-contained: no imports outside the standard library, no package-relative imports.
The same functions score the base-vs-tuned comparison and the TRL benchmark, so every side of
the demo grades with one definition.

Answer extraction follows the Bedrock GSM8K sample: keep the last 300 characters, take the last
match of ``#### (-?[0-9.,]+)`` and strip ``,`` and ``$``. Unlike the sample, numbers are compared
by value (``18.0`` equals ``18``) and a trailing full stop is ignored, so that a correct answer
written as ``#### 18.`` is not scored wrong. A completion must commit to one answer: with more
than one ``#### <number>`` it scores 0 on both counts. Without that rule GRPO finds the cheap way
to the format credit within a few steps (repeating ``#### N`` lines until the token limit) and
could list several candidates hoping the last is right.
"""

from __future__ import annotations

import math
import re
from typing import Any

ANSWER_PATTERN = re.compile(r"#### (\-?[0-9\.\,]+)")
TAIL_CHARS = 300
FORMAT_CREDIT = 0.1


def extract_answer(text: str) -> str | None:
    """The final answer after the last ``####`` in the text's last 300 characters, or None."""
    matches = ANSWER_PATTERN.findall(text[-TAIL_CHARS:])
    if not matches:
        return None
    answer = matches[-1].replace(",", "").replace("$", "").rstrip(".")
    return answer or None


def answers_match(answer: str | None, reference: str | None) -> bool:
    """True when both answers exist and are equal as numbers (or as strings if not numeric)."""
    if answer is None or reference is None:
        return False
    try:
        return math.isclose(float(answer), float(reference), rel_tol=0.0, abs_tol=1e-9)
    except ValueError:
        return answer == reference


def score_completion(completion: str, reference: str | None) -> tuple[float, float]:
    """``(accuracy, format)`` of one completion, each 0.0 or 1.0.

    ``format`` is 1.0 when the completion holds exactly one ``#### <number>`` answer, near its
    end (``extract_answer``); more than one scores ``(0.0, 0.0)``.
    """
    if len(ANSWER_PATTERN.findall(completion)) > 1:
        return 0.0, 0.0
    answer = extract_answer(completion)
    correct = answers_match(answer, reference)
    return float(correct), float(answer is not None)


def reward_from_scores(accuracy: float, formatted: float) -> float:
    """The scalar reward: 1.0 for a correct answer, else a small credit for the format."""
    return 1.0 if accuracy else FORMAT_CREDIT * formatted


def reference_of(trajectory: dict[str, Any]) -> str | None:
    """The reference final answer of one Bedrock trajectory.

    Looks at ``metadata.ground_truth`` first, then ``reference_answer`` (top level or in
    ``metadata``; a string with a ``####`` line, a bare number, or ``{"text"|"answer": ...}``).
    """
    metadata = trajectory.get("metadata") or {}
    truth = metadata.get("ground_truth", trajectory.get("ground_truth"))
    if truth is not None:
        return str(truth).replace(",", "").replace("$", "").strip()
    reference = trajectory.get("reference_answer", metadata.get("reference_answer"))
    if isinstance(reference, dict):
        reference = reference.get("text", reference.get("answer"))
    if reference is None:
        return None
    text = str(reference)
    return extract_answer(text) or text.replace(",", "").replace("$", "").strip() or None


def completion_of(trajectory: dict[str, Any]) -> str:
    """The rollout: the content of the last assistant message of a trajectory."""
    for message in reversed(trajectory.get("messages") or []):
        if message.get("role") == "assistant":
            return str(message.get("content") or "")
    return ""


def lambda_handler(event: Any, context: Any) -> list[dict[str, Any]]:
    """Score a batch of trajectories; Bedrock's event list in, one result per id out.

    ``event``: a list of ``{"id", "messages", "metadata", "reference_answer"}`` (or a dict with
    that list under ``"trajectories"``). Returns ``[{"id", "aggregate_reward_score",
    "metrics_list": [{"name": "accuracy", ...}, {"name": "format", ...}]}]``.
    """
    trajectories = event.get("trajectories", []) if isinstance(event, dict) else event
    results = []
    for trajectory in trajectories:
        accuracy, formatted = score_completion(completion_of(trajectory), reference_of(trajectory))
        results.append(
            {
                "id": trajectory.get("id"),
                "aggregate_reward_score": reward_from_scores(accuracy, formatted),
                "metrics_list": [
                    {"name": "accuracy", "value": accuracy, "type": "Reward"},
                    {"name": "format", "value": formatted, "type": "Metric"},
                ],
            }
        )
    return results
