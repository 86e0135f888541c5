"""Helpers for grader unit tests."""

from __future__ import annotations

from typing import Any

from openrft.graders import GradingRequest


def make_request(
    output_text: str, item: dict[str, Any] | None = None, rid: str = "r0"
) -> GradingRequest:
    """A request with a one-message prompt."""
    row = item if item is not None else {}
    messages = row.get("messages", [{"role": "user", "content": "q"}])
    return GradingRequest(id=rid, messages=messages, output_text=output_text, item=row)
