"""The grading contract: requests in, one ``GradeResult`` per request out (see ARCHITECTURE.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from openrft.domain.grader_limits import DEFAULT_GRADER_LIMITS, GraderLimits
from openrft.errors import OpenRFTError
from openrft.net.egress import EgressPolicy

# The 14 keys of ``RunGraderResponse.metadata.errors``, in the wire order.
ERROR_KEYS: tuple[str, ...] = (
    "formula_parse_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
    "invalid_variable_error",
    "other_error",
    "python_grader_server_error",
    "python_grader_server_error_type",
    "python_grader_runtime_error",
    "python_grader_runtime_error_details",
    "model_grader_server_error",
    "model_grader_refusal_error",
    "model_grader_parse_error",
    "model_grader_server_error_details",
)
_DETAIL_KEYS = frozenset(
    {
        "python_grader_server_error_type",
        "python_grader_runtime_error_details",
        "model_grader_server_error_details",
    }
)


_EMPTY_ERRORS: dict[str, Any] = {
    key: (None if key in _DETAIL_KEYS else False) for key in ERROR_KEYS
}


def empty_errors() -> dict[str, Any]:
    """All 14 error keys: flags ``False``, detail strings ``None``."""
    return dict(_EMPTY_ERRORS)


def merge_errors(target: dict[str, Any], other: dict[str, Any]) -> None:
    """OR the flags of ``other`` into ``target``; keep the first non-null detail string."""
    for key, value in other.items():
        if key in _DETAIL_KEYS:
            target[key] = target.get(key) or value
        else:
            target[key] = bool(target.get(key)) or bool(value)


@dataclass(frozen=True)
class GradingRequest:
    """One rollout to grade.

    ``messages`` are the prompt messages, ``output_text`` the model's completion (its final
    answer in a multi-turn rollout) and ``item`` the whole dataset row (``messages``,
    ``reference_answer``, ... any other keys). ``output_messages``: in a multi-turn (tool)
    rollout, every message after the prompt (assistant turns with ``tool_calls``, ``tool``
    results, the final answer); None for a single completion.
    """

    id: str
    messages: list[dict[str, Any]]
    output_text: str
    item: dict[str, Any]
    output_messages: list[dict[str, Any]] | None = None


@dataclass
class GradeResult:
    """The grade of one request. ``execution_time`` is in seconds."""

    reward: float
    errors: dict[str, Any] = field(default_factory=empty_errors)
    sub_rewards: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    execution_time: float = 0.0
    token_usage: dict[str, int] | None = None
    # Extension: usage per grader model, for ``model_grader_token_usage_per_model``.
    token_usage_per_model: dict[str, dict[str, int]] = field(default_factory=dict)
    # What user code printed or logged in the call that gave this grade (a Lambda handler's
    # whole batch call); "" when nothing or not user code.
    logs: str = ""

    @classmethod
    def failed(cls, flag: str, detail: str | None = None, **extra: Any) -> GradeResult:
        """A zero reward with ``flag`` set (and ``detail`` under its ``*_details`` key)."""
        errors = empty_errors()
        errors[flag] = True
        if detail is not None:
            errors[_DETAIL_KEY_FOR.get(flag, flag)] = detail
        return cls(reward=0.0, errors=errors, **extra)

    @property
    def has_error(self) -> bool:
        """True when any error flag is set."""
        return any(v is True for k, v in self.errors.items() if k not in _DETAIL_KEYS)


MAX_ERROR_TEXT = 300  # characters of a detail string quoted in an error description


def describe_errors(result: GradeResult) -> str:
    """The error flags of ``result`` with their details, e.g.
    ``"python_grader_runtime_error: ZeroDivisionError: division by zero"``."""
    parts = []
    for flag, value in result.errors.items():
        if flag in _DETAIL_KEYS or value is not True:
            continue
        detail = result.errors.get(_DETAIL_KEY_FOR.get(flag, ""))
        text = " ".join(str(detail).split())[:MAX_ERROR_TEXT] if detail else ""
        parts.append(f"{flag}: {text}" if text else flag)
    return ", ".join(parts) or "no error"


_DETAIL_KEY_FOR = {
    "python_grader_runtime_error": "python_grader_runtime_error_details",
    "python_grader_server_error": "python_grader_server_error_type",
    "model_grader_server_error": "model_grader_server_error_details",
}


class GradingFailedError(OpenRFTError):
    """A whole batch could not be graded (e.g. the Lambda stayed down through every retry).

    ``logs``: what the handler printed or logged in its last attempt, when it ran here."""

    status = 502
    type = "server_error"
    default_code = "grading_failed"
    logs: str = ""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one sandboxed grader call. Times in seconds, sizes in bytes."""

    wall_time_s: float = 120.0
    cpu_time_s: float = 120.0
    memory_bytes: int = 2 * 1024**3
    max_processes: int = 64
    file_size_bytes: int = 256 * 1024**2
    tmp_size_bytes: int = 256 * 1024**2
    # "auto" (bubblewrap or refuse), "bwrap", "unshare" or "none"; see sandbox/launch.py.
    isolation: str = "auto"
    # Characters of printed/logged output kept per call (the start and the end).
    log_chars: int = 16_000
    # Paths the sandbox must not see where the mode leaves the file system visible (the data
    # dir): covered by an empty tmpfs in "unshare" mode; bwrap never mounts them.
    hidden: tuple[str, ...] = ()
    workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))


# ``file-abc123`` → (file name, source) of the caller's ``purpose="grader"`` upload, or None.
UploadReader = Callable[[str], "tuple[str, str] | None"]
# A model name → True when this server can serve it to the caller (model graders' ``model``).
ModelChecker = Callable[[str], bool]


@dataclass(frozen=True)
class JudgeAccess:
    """Judges for sandboxed grader code (``sandbox/judge_relay.py``): this server's ``/v1``, the
    key the relay forwards with, and which model names the project may use."""

    chat_base_url: str
    api_key: str | None
    knows_model: ModelChecker


@dataclass(frozen=True)
class GraderContext:
    """What a grader needs from its host: model endpoint, scratch space, sandbox limits."""

    chat_base_url: str = "http://127.0.0.1:8000/v1"
    api_key: str | None = None
    scratch_dir: Path | None = None
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    # First retry delay of the Lambda grader; doubles each retry.
    retry_backoff_s: float = 0.5
    # Concurrent calls to a model grader's chat endpoint.
    model_concurrency: int = 8
    # Which addresses tenant-chosen URLs (Lambda URLs) may reach; default: public ones only.
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    # Judges reachable from sandboxed python graders and handlers; None: no channel.
    judge: JudgeAccess | None = None
    # The operator's caps (rendered template size here).
    limits: GraderLimits = DEFAULT_GRADER_LIMITS


@dataclass(frozen=True)
class ValidationContext:
    """What validating a grader may consult: Lambda ``file.py:handler`` files under
    ``base_dir`` (None: none), the caller's uploaded handler files (``read_upload``; None: none),
    the egress policy a Lambda URL must pass, which models a model grader may name
    (``knows_model``; None: not checked), and the sandbox mode user code would run in."""

    base_dir: Path | None = None
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    read_upload: UploadReader | None = None
    knows_model: ModelChecker | None = None
    # The operator's sandbox mode: code for the sandbox is refused when it does not work here
    # (None: not checked).
    sandbox: str | None = None
    # The operator's caps on templates, code size and Lambda timeouts and retries.
    limits: GraderLimits = DEFAULT_GRADER_LIMITS


class Grader(Protocol):
    """A built grader: ``grade`` returns one result per request, in order."""

    name: str
    type: str

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]: ...

    async def aclose(self) -> None: ...
