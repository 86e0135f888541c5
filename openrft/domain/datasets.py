"""Validate fine-tune JSONL: one JSON object per line that some fine-tuning method can use
(``method_rows.upload_problem``: a non-empty ``messages`` list, or a DPO preference pair)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from openrft.domain.method_rows import upload_problem
from openrft.errors import InvalidRequestError


def _bad_line(number: int, why: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid fine-tune file: line {number}: {why}. Each line must be a JSON object with a "
        'non-empty "messages" list of {"role", "content"} objects (DPO: {"input": {"messages": '
        '[...]}, "preferred_output": [...], "non_preferred_output": [...]}).',
        param="file",
        code="invalid_file_format",
    )


@dataclass(frozen=True)
class JsonlLimits:
    """Caps on one fine-tune file: bytes per line and number of rows."""

    max_line_bytes: int = 1024 * 1024
    max_rows: int = 1_000_000


def read_lines(src: BinaryIO, limits: JsonlLimits) -> Iterator[bytes]:
    """Lines of ``src``, each read with a bound so an endless line is never held whole."""
    return iter(lambda: src.readline(limits.max_line_bytes + 2), b"")


def _decode(number: int, line: bytes, limits: JsonlLimits) -> str:
    if len(line.rstrip(b"\r\n")) > limits.max_line_bytes:
        raise InvalidRequestError(
            f"Invalid fine-tune file: line {number} is longer than {limits.max_line_bytes} "
            "bytes (OPENRFT_MAX_JSONL_LINE_BYTES); shorten the row.",
            param="file",
            code="invalid_file_format",
        )
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            f"Invalid fine-tune file: line {number} is not UTF-8 text (byte {exc.start}).",
            param="file",
        ) from None


def validate_jsonl(data: bytes | Iterable[bytes], limits: JsonlLimits | None = None) -> int:
    """Check every line of a fine-tune JSONL file; return its row count (blank lines skipped).

    ``data`` is the whole file or its lines (see ``read_lines``).
    """
    limits = limits or JsonlLimits()
    lines = data.splitlines() if isinstance(data, bytes) else data
    rows = 0
    for number, raw in enumerate(lines, start=1):
        line = _decode(number, raw, limits)
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad_line(number, f"not valid JSON ({exc.msg})") from None
        problem = upload_problem(row)
        if problem:
            raise _bad_line(number, problem)
        rows += 1
        if rows > limits.max_rows:
            raise InvalidRequestError(
                f"Invalid fine-tune file: more than {limits.max_rows} rows "
                "(OPENRFT_MAX_JSONL_ROWS); split it.",
                param="file",
                code="invalid_file_format",
            )
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
