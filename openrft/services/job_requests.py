"""Validate a create-job request field by field; every 400 names the field to fix in ``param``."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from openrft.domain.hyperparameters import no_effect_warnings, resolve_hyperparameters
from openrft.domain.jobs import MethodType, PreflightMode
from openrft.domain.method_rows import METHODS as METHOD_TYPES
from openrft.domain.method_rows import method_problem
from openrft.domain.records import FINE_TUNE_PURPOSE, FileRecord
from openrft.errors import InvalidRequestError
from openrft.inference.vllm_server import VLLM_EXTRA_HINT

if TYPE_CHECKING:
    from openrft.graders.types import ValidationContext

TUNING_KEYS = frozenset({"hyperparameters"})  # method.supervised / method.dpo
REINFORCEMENT_KEYS = frozenset(
    {"grader", "hyperparameters", "response_format", "monitor_grader", "preflight", "tools"}
)
PREFLIGHT_MODES = ("warn", "block", "off")
ROW_FORMATS = {
    "supervised": 'Supervised rows are {"messages": [...], "tools"?: [...]} with at least one '
    "assistant message to learn.",
    "dpo": 'DPO rows are {"input": {"messages": [...]}, "preferred_output": [{"role": '
    '"assistant", ...}], "non_preferred_output": [{"role": "assistant", ...}]}.',
    "reinforcement": 'Reinforcement rows are {"messages": [...], <fields for the grader>}.',
}
MAX_SEED = 2_147_483_647
_SUFFIX = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
GRADER_PARAM = "method.reinforcement.grader"
MONITOR_PARAM = "method.reinforcement.monitor_grader"


def check_training_file(record: FileRecord | None, file_id: str, param: str) -> FileRecord:
    """The file must exist in this project, have purpose fine-tune and at least one row."""
    if record is None:
        raise InvalidRequestError(
            f"Invalid {param} '{file_id}': no such file in this project. "
            "Upload it first with files.create(purpose='fine-tune').",
            param=param,
            code="invalid_file",
        )
    if record.purpose != FINE_TUNE_PURPOSE:
        raise InvalidRequestError(
            f"Invalid {param} '{file_id}': its purpose is '{record.purpose}', "
            "but fine-tuning needs a file uploaded with purpose='fine-tune'.",
            param=param,
            code="invalid_file",
        )
    return record


def check_rows(lines: Iterable[bytes], kind: str, param: str, file_id: str) -> None:
    """Every row of an uploaded file must suit the job's method: the 400 names the line and
    the field (uploads were checked only for a shape some method can use)."""
    number = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        problem = method_problem(kind, json.loads(raw))
        if problem is not None:
            raise InvalidRequestError(
                f"Invalid {param} '{file_id}' for method '{kind}': line {number}: {problem}. "
                + ROW_FORMATS[kind],
                param=param,
                code="invalid_file_format",
            )


def check_suffix(suffix: str | None) -> str | None:
    if suffix is not None and not _SUFFIX.match(suffix):
        raise InvalidRequestError(
            f"Invalid suffix {suffix!r}: use 1-64 letters, digits, '.', '_' or '-'.",
            param="suffix",
        )
    return suffix


def resolve_seed(seed: int | None) -> int:
    """The given seed, or a random one: the job always reports an int."""
    if seed is None:
        return secrets.randbelow(MAX_SEED + 1)
    if not 0 <= seed <= MAX_SEED:
        raise InvalidRequestError(
            f"Invalid seed {seed}: use an integer from 0 to {MAX_SEED}.", param="seed"
        )
    return seed


def check_metadata(metadata: dict[str, str] | None) -> dict[str, str] | None:
    """At most 16 string pairs; keys up to 64 chars, values up to 512."""
    if metadata is None:
        return None
    if len(metadata) > 16:
        raise InvalidRequestError(
            f"Invalid metadata: {len(metadata)} keys given, at most 16 are allowed.",
            param="metadata",
        )
    for key, value in metadata.items():
        if not 1 <= len(key) <= 64:
            raise InvalidRequestError(
                f"Invalid metadata key {key[:80]!r}: keys must be 1-64 characters.",
                param="metadata",
            )
        if len(value) > 512:
            raise InvalidRequestError(
                f"Invalid metadata value for {key!r}: values must be at most 512 characters.",
                param=f"metadata.{key}",
            )
    return metadata


def method_section(
    method: dict[str, Any] | None, legacy_hyperparameters: dict[str, Any] | None
) -> tuple[MethodType, dict[str, Any]]:
    """The method type and its section (``method.<type>``) with its hyperparameters; the
    legacy top-level ones fold in. No ``method`` means supervised, as in OpenAI's API."""
    if method is None:
        return "supervised", {"hyperparameters": legacy_hyperparameters}
    if not isinstance(method, dict):
        raise InvalidRequestError("'method' must be an object with a 'type'.", param="method")
    kind = method.get("type")
    if kind not in METHOD_TYPES:
        raise InvalidRequestError(
            f"Invalid method.type {kind!r}: use 'supervised', 'dpo' or 'reinforcement'.",
            param="method.type",
        )
    for key in method:
        if key not in ("type", kind):
            raise InvalidRequestError(
                f"Unknown field 'method.{key}' for method.type '{kind}'; put the settings in "
                f"'method.{kind}'.",
                param=f"method.{key}",
            )
    section = method.get(kind)
    if kind == "reinforcement" and not isinstance(section, dict):
        raise InvalidRequestError(
            "Missing 'method.reinforcement': it must be an object with a 'grader'.",
            param="method.reinforcement",
        )
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise InvalidRequestError(
            f"'method.{kind}' must be an object or null.", param=f"method.{kind}"
        )
    allowed = REINFORCEMENT_KEYS if kind == "reinforcement" else TUNING_KEYS
    for key in section:
        if key not in allowed:
            raise InvalidRequestError(
                f"Unknown field 'method.{kind}.{key}'; allowed: {', '.join(sorted(allowed))}.",
                param=f"method.{kind}.{key}",
            )
    if legacy_hyperparameters and section.get("hyperparameters"):
        raise InvalidRequestError(
            "Give hyperparameters once: the top-level 'hyperparameters' is deprecated, "
            f"use method.{kind}.hyperparameters.",
            param="hyperparameters",
        )
    hyperparameters = section.get("hyperparameters") or legacy_hyperparameters
    return cast(MethodType, kind), {**section, "hyperparameters": hyperparameters}


def validate_grader_spec(section: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
    """The normalized grader to store (may carry internal ``_`` keys)."""
    grader = section.get("grader")
    if grader is None:
        raise InvalidRequestError(
            "Missing 'method.reinforcement.grader': give a grader object such as "
            '{"type": "string_check", ...}.',
            param=GRADER_PARAM,
        )
    from openrft.graders import validate_grader

    return validate_grader(grader, param=GRADER_PARAM, ctx=ctx)


def validate_monitor_grader(
    section: dict[str, Any], ctx: ValidationContext
) -> dict[str, Any] | None:
    """The normalized monitor grader, or None. It grades every sample but never trains."""
    monitor = section.get("monitor_grader")
    if monitor is None:
        return None
    from openrft.graders import validate_grader

    return validate_grader(monitor, param=MONITOR_PARAM, ctx=ctx)


def check_preflight(value: Any) -> PreflightMode | None:
    """``method.reinforcement.preflight``: run the preflight in the worker before training."""
    if value is None:
        return None
    if value not in PREFLIGHT_MODES:
        raise InvalidRequestError(
            f"Invalid method.reinforcement.preflight {value!r}: use 'warn' (report, then train), "
            "'block' (fail the job when the preflight finds a blocking problem) or 'off'.",
            param="method.reinforcement.preflight",
        )
    return cast(PreflightMode, value)


def check_checkpoint_selection(hyperparameters: dict[str, Any], monitor: Any) -> None:
    """Selecting checkpoints by the monitor grader needs one."""
    if hyperparameters.get("select_checkpoint_by") == "monitor" and monitor is None:
        raise InvalidRequestError(
            "select_checkpoint_by='monitor' needs method.reinforcement.monitor_grader; give "
            "one or select by 'reward'.",
            param="method.reinforcement.hyperparameters.select_checkpoint_by",
        )


def check_rollout_engine(
    hyperparameters: dict[str, Any], vllm_installed: Callable[[], bool]
) -> None:
    """``rollout_engine: "vllm"`` needs vLLM installed where jobs run."""
    if hyperparameters.get("rollout_engine") != "vllm":
        return
    param = "method.reinforcement.hyperparameters.rollout_engine"
    if not vllm_installed():
        raise InvalidRequestError(
            f"rollout_engine 'vllm' needs vLLM, which this server does not have: "
            f"{VLLM_EXTRA_HINT}; or use rollout_engine 'openrft'.",
            param=param,
        )


def check_response_format(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise InvalidRequestError(
            "method.reinforcement.response_format must be an object or null.",
            param="method.reinforcement.response_format",
        )
    return value


def check_tools(value: Any, ctx: ValidationContext) -> list[dict[str, Any]] | None:
    """``method.reinforcement.tools`` normalized (None when absent): the tool providers of
    multi-turn rollouts; their URLs must pass the egress policy, as Lambda URLs do."""
    if value is None:
        return None
    from openrft.graders.validation import check_sandbox
    from openrft.tools import validate_tool_providers

    providers = validate_tool_providers(
        value, egress=ctx.egress, param="method.reinforcement.tools"
    )
    check_sandbox(providers, ctx)
    return providers


def resolve_section_hyperparameters(
    kind: str, section: dict[str, Any], n_train_rows: int
) -> dict[str, Any]:
    return resolve_hyperparameters(
        section.get("hyperparameters"), n_train_rows=n_train_rows, method=kind
    )


def hyperparameter_warnings(section: dict[str, Any]) -> list[str]:
    """A ``warn`` event's message for each hyperparameter the request sets that does nothing."""
    return no_effect_warnings(section.get("hyperparameters"))
