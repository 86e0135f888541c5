"""Resolve ``method.reinforcement.hyperparameters``: validate, apply aliases, fill in "auto".

Pure: takes the user's dict and the training row count, returns every value the trainer uses.
"""

from __future__ import annotations

import math
from typing import Any

from openrft.domain.hyperparameters.schema import (
    BEDROCK_ALIASES,
    FULL_BASE_LR,
    HYPERPARAMETERS,
    LORA_BASE_LR,
)
from openrft.domain.hyperparameters.spec import PARAM
from openrft.errors import InvalidRequestError


def canonical_names(raw: dict[str, Any]) -> dict[str, Any]:
    """Map Bedrock aliases to openrft names; reject unknown keys and alias/name clashes."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = BEDROCK_ALIASES.get(key, key)
        if name not in HYPERPARAMETERS:
            raise InvalidRequestError(
                f"Unknown hyperparameter '{key}'. Supported: {', '.join(sorted(HYPERPARAMETERS))} "
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


def _given(raw: dict[str, Any] | None) -> dict[str, Any]:
    if raw is not None and not isinstance(raw, dict):
        raise InvalidRequestError(f"'{PARAM}' must be an object.", param=PARAM)
    return canonical_names(raw or {})


def resolve_hyperparameters(raw: dict[str, Any] | None, *, n_train_rows: int) -> dict[str, Any]:
    """Return every hyperparameter with "auto" resolved.

    ``n_train_rows``: rows in the training file (>= 1). ``batch_size`` is prompts per step;
    each prompt is sampled ``group_size`` times.
    """
    given = _given(raw)
    values = {
        name: hp.kind.check(name, given.get(name, hp.default))
        for name, hp in HYPERPARAMETERS.items()
    }
    return _resolve_auto(values, n_train_rows=max(1, n_train_rows))


def _resolve_auto(values: dict[str, Any], *, n_train_rows: int) -> dict[str, Any]:
    """Each "auto" becomes its schema value, then the rules that depend on the data apply."""
    out = {
        name: HYPERPARAMETERS[name].auto if value == "auto" else value
        for name, value in values.items()
    }
    if values["batch_size"] == "auto":
        out["batch_size"] = min(out["batch_size"], n_train_rows)
    if values["eval_interval"] == "auto":
        steps_per_epoch = math.ceil(n_train_rows / out["batch_size"])
        out["eval_interval"] = max(1, min(out["eval_interval"], steps_per_epoch // 4 or 1))
    if values["learning_rate"] in (None, "auto"):
        base_lr = LORA_BASE_LR if out["lora_rank"] > 0 else FULL_BASE_LR
        out["learning_rate"] = out["learning_rate_multiplier"] * base_lr
    if values["epsilon_high"] is None:
        out["epsilon_high"] = out["epsilon"]
    return out


def no_effect_warnings(raw: dict[str, Any] | None) -> list[str]:
    """One message per field the request sets (to other than its default) that does nothing.

    ``raw`` must already have passed ``resolve_hyperparameters``.
    """
    messages = []
    for key, value in (raw or {}).items():
        hp = HYPERPARAMETERS[BEDROCK_ALIASES.get(key, key)]
        if hp.no_effect is not None and value != hp.default:
            label = f"'{key}'" if key == hp.name else f"'{key}' ({hp.name})"
            messages.append(
                f"Hyperparameter {label} = {value!r} has no effect here: {hp.no_effect}"
            )
    return messages
