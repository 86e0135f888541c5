"""Validate fine-tune JSONL: one JSON object per line with a non-empty ``messages`` list."""

from __future__ import annotations

import json
from typing import Any

from openrft.errors import InvalidRequestError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


def _bad_line(number: int, why: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid fine-tune file: line {number}: {why}. Each line must be a JSON object with a "
        'non-empty "messages" list of {"role", "content"} objects.',
        param="file",
        code="invalid_file_format",
    )


def row_problem(row: Any) -> str | None:
    """Why ``row`` is not a valid dataset row, or None when it is."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return 'missing or empty "messages" list'
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{index}] is not an object"
        role = message.get("role")
        if role not in ROLES:
            return f"messages[{index}].role must be one of {', '.join(sorted(ROLES))}, got {role!r}"
        content = message.get("content")
        if not isinstance(content, str | list) and not (
            content is None and message.get("tool_calls")
        ):
            return f'messages[{index}] has no "content" (a string or a list of parts)'
    return None


def validate_jsonl(data: bytes) -> int:
    """Check every line of a fine-tune JSONL file; return its row count (blank lines skipped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            f"Invalid fine-tune file: not UTF-8 text (byte {exc.start}).", param="file"
        ) from None
    rows = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad_line(number, f"not valid JSON ({exc.msg})") from None
        problem = row_problem(row)
        if problem:
            raise _bad_line(number, problem)
        rows += 1
    if rows == 0:
        raise InvalidRequestError(
            "Invalid fine-tune file: it contains no rows; upload at least one JSON line.",
            param="file",
            code="invalid_file_format",
        )
    return rows


def count_rows(data: bytes) -> int:
    """Non-blank lines of an already validated JSONL file."""
    return sum(1 for line in data.splitlines() if line.strip())
