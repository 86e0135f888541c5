"""What the job's grader code (python graders, Lambda handlers) printed or logged, kept with the
job as the result file ``grader_logs.jsonl``: one line per distinct output of a step."""

from __future__ import annotations

import json
from collections.abc import Iterable

from openrft.graders import GradeResult

GRADER_LOGS_FILENAME = "grader_logs.jsonl"
MAX_LOG_BYTES = 4 * 1024**2  # per job; later output is counted, not kept


def distinct_logs(results: Iterable[GradeResult]) -> list[str]:
    """The non-empty logs of ``results``, each once (a Lambda batch shares one), in order."""
    return list(dict.fromkeys(r.logs for r in results if r.logs))


class GraderLogBook:
    """Collects ``{"step", "split", "logs"}`` lines up to ``limit_bytes``."""

    def __init__(self, limit_bytes: int = MAX_LOG_BYTES) -> None:
        self.limit_bytes = limit_bytes
        self.lines: list[bytes] = []
        self.size = 0
        self.dropped = 0

    def add(self, step: int, split: str, logs: Iterable[str]) -> None:
        for text in logs:
            line = json.dumps({"step": step, "split": split, "logs": text}).encode() + b"\n"
            if self.size + len(line) > self.limit_bytes:
                self.dropped += 1
                continue
            self.lines.append(line)
            self.size += len(line)

    def jsonl(self) -> bytes | None:
        """The file's bytes (a last line counts what did not fit); None when nothing was logged."""
        if not self.lines and not self.dropped:
            return None
        tail = [json.dumps({"dropped": self.dropped}).encode() + b"\n"] if self.dropped else []
        return b"".join(self.lines + tail)
