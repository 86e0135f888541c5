"""Resolve ``method.reinforcement.hyperparameters``: validate, apply aliases, fill in "auto".

Pure: takes the user's dict and the training row count, returns every value the trainer uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from openrft.errors import InvalidRequestError

PARAM = "method.reinforcement.hyperparameters"

BEDROCK_ALIASES = {
    "trainingSamplePerPrompt": "group_size",
    "inferenceMaxTokens": "max_completion_tokens",
    "maxPromptLength": "max_prompt_tokens",
    "epochCount": "n_epochs",
    "learningRate": "learning_rate",
    "evalInterval": "eval_interval",
    "batchSize": "batch_size",
}

LORA_BASE_LR = 1e-4
FULL_BASE_LR = 1e-6
DEFAULT_EARLY_STOPPING: dict[str, Any] = {"patience": 3, "min_delta": 0.01, "target_reward": None}

Check = Callable[[str, Any], Any]


def _fail(name: str, expected: str, value: Any) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid value for '{PARAM}.{name}': expected {expected}, got {value!r}.",
        param=f"{PARAM}.{name}",
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def integer(lo: int, hi: int | None = None, *, auto: bool = False, null: bool = False) -> Check:
    """An int in ``[lo, hi]``; optionally also "auto" or null."""
    span = f"an integer >= {lo}" if hi is None else f"an integer between {lo} and {hi}"
    expected = ('"auto" or ' if auto else "") + span + (" or null" if null else "")

    def check(name: str, value: Any) -> Any:
        if (auto and value == "auto") or (null and value is None):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(name, expected, value)
        if value < lo or (hi is not None and value > hi):
            raise _fail(name, expected, value)
        return value

    return check


def number(
    lo: float,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    auto: bool = False,
    null: bool = False,
) -> Check:
    """A finite number with bound ``lo`` (open when ``lo_open``) and closed ``hi``."""
    low = f"> {lo}" if lo_open else f">= {lo}"
    span = f"a number {low}" + ("" if hi is None else f" and <= {hi}")
    expected = ('"auto" or ' if auto else "") + span + (" or null" if null else "")

    def check(name: str, value: Any) -> Any:
        if (auto and value == "auto") or (null and value is None):
            return value
        if not _is_number(value):
            raise _fail(name, expected, value)
        if (value <= lo if lo_open else value < lo) or (hi is not None and value > hi):
            raise _fail(name, expected, value)
        return float(value)

    return check


def choice(*options: str) -> Check:
    expected = "one of " + ", ".join(f'"{o}"' for o in options)

    def check(name: str, value: Any) -> Any:
        if value not in options:
            raise _fail(name, expected, value)
        return value

    return check


def _early_stopping(name: str, value: Any) -> Any:
    if value is None:
        return dict(DEFAULT_EARLY_STOPPING)
    if not isinstance(value, dict):
        raise _fail(name, "an object {patience, min_delta, target_reward} or null", value)
    checks: dict[str, Check] = {
        "patience": integer(1),
        "min_delta": number(0.0),
        "target_reward": number(-1e9, null=True),
    }
    for key in value:
        if key not in checks:
            raise InvalidRequestError(
                f"Unknown key '{key}' in '{PARAM}.{name}'; allowed: {', '.join(checks)}.",
                param=f"{PARAM}.{name}.{key}",
            )
    merged = {**DEFAULT_EARLY_STOPPING, **value}
    return {key: checks[key](f"{name}.{key}", merged[key]) for key in checks}


FIELDS: dict[str, Check] = {
    # OpenAI's reinforcement hyperparameters.
    "batch_size": integer(1, 256, auto=True),
    "learning_rate_multiplier": number(0.0, lo_open=True, auto=True),
    "n_epochs": integer(1, 50, auto=True),
    "eval_interval": integer(1, auto=True),
    "eval_samples": integer(1, 64, auto=True),
    "compute_multiplier": number(0.00001, 10.0, lo_open=True, auto=True),
    "reasoning_effort": choice("auto", "default", "low", "medium", "high"),
    # openrft extensions.
    "group_size": integer(2, 256),
    "max_completion_tokens": integer(1, 32768),
    "max_prompt_tokens": integer(1, 131072),
    "learning_rate": number(0.0, 1.0, lo_open=True, auto=True, null=True),
    "temperature": number(0.0, 10.0, lo_open=True),
    "top_p": number(0.0, 1.0, lo_open=True),
    "beta": number(0.0),
    "epsilon": number(0.0, 1.0, lo_open=True),
    "epsilon_high": number(0.0, 10.0, lo_open=True, null=True),
    "loss_type": choice("dapo", "grpo", "dr_grpo", "bnpo"),
    "scale_rewards": choice("group", "batch", "none"),
    "num_iterations": integer(1, 64),
    "lora_rank": integer(0, 1024),
    "lora_alpha": number(0.0, lo_open=True),
    "max_steps": integer(1, null=True),
    "early_stopping": _early_stopping,
    "dtype": choice("float32", "bfloat16"),
    "warmup_ratio": number(0.0, 0.999),
    "max_grad_norm": number(0.0, lo_open=True, null=True),
}

DEFAULTS: dict[str, Any] = {
    "batch_size": "auto",
    "learning_rate_multiplier": "auto",
    "n_epochs": "auto",
    "eval_interval": "auto",
    "eval_samples": "auto",
    "compute_multiplier": "auto",
    "reasoning_effort": "auto",
    "group_size": 8,
    "max_completion_tokens": 256,
    "max_prompt_tokens": 1024,
    "learning_rate": None,
    "temperature": 1.0,
    "top_p": 1.0,
    "beta": 0.0,
    "epsilon": 0.2,
    "epsilon_high": None,
    "loss_type": "dapo",
    "scale_rewards": "group",
    "num_iterations": 1,
    "lora_rank": 16,
    "lora_alpha": 32.0,
    "max_steps": None,
    "early_stopping": None,
    "dtype": "float32",
    "warmup_ratio": 0.0,
    "max_grad_norm": 1.0,
}


def canonical_names(raw: dict[str, Any]) -> dict[str, Any]:
    """Map Bedrock aliases to openrft names; reject unknown keys and alias/name clashes."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = BEDROCK_ALIASES.get(key, key)
        if name not in FIELDS:
            raise InvalidRequestError(
                f"Unknown hyperparameter '{key}'. Supported: {', '.join(sorted(FIELDS))} "
                f"(and Bedrock aliases {', '.join(sorted(BEDROCK_ALIASES))}).",
                param=f"{PARAM}.{key}",
            )
        if name in out:
            raise InvalidRequestError(
                f"Hyperparameter '{name}' is given twice (once as '{key}'); give it once.",
                param=f"{PARAM}.{key}",
            )
        out[name] = value
    return out


def resolve_hyperparameters(raw: dict[str, Any] | None, *, n_train_rows: int) -> dict[str, Any]:
    """Return every hyperparameter with "auto" resolved.

    ``n_train_rows``: rows in the training file (>= 1). ``batch_size`` is prompts per step;
    each prompt is sampled ``group_size`` times.
    """
    if raw is not None and not isinstance(raw, dict):
        raise InvalidRequestError(f"'{PARAM}' must be an object.", param=PARAM)
    given = canonical_names(raw or {})
    values = {name: FIELDS[name](name, given.get(name, DEFAULTS[name])) for name in FIELDS}
    return _resolve_auto(values, n_train_rows=max(1, n_train_rows))


def _resolve_auto(values: dict[str, Any], *, n_train_rows: int) -> dict[str, Any]:
    def auto(name: str, resolved: Any) -> Any:
        return resolved if values[name] == "auto" else values[name]

    batch_size = auto("batch_size", min(8, n_train_rows))
    steps_per_epoch = math.ceil(n_train_rows / batch_size)
    multiplier = auto("learning_rate_multiplier", 1.0)
    base_lr = LORA_BASE_LR if values["lora_rank"] > 0 else FULL_BASE_LR
    learning_rate = values["learning_rate"]
    if learning_rate in (None, "auto"):
        learning_rate = multiplier * base_lr
    epsilon_high = values["epsilon_high"]
    return {
        **values,
        "batch_size": batch_size,
        "n_epochs": auto("n_epochs", 1),
        "learning_rate_multiplier": multiplier,
        "eval_interval": auto("eval_interval", max(1, min(10, steps_per_epoch // 4 or 1))),
        "eval_samples": auto("eval_samples", 1),
        "compute_multiplier": auto("compute_multiplier", 1.0),
        "reasoning_effort": auto("reasoning_effort", "default"),
        "learning_rate": learning_rate,
        "epsilon_high": values["epsilon"] if epsilon_high is None else epsilon_high,
    }
