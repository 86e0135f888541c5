"""Resolve ``method.<type>.hyperparameters``: validate, apply aliases, fill in "auto".

Pure: takes the user's dict, the method and the training row count, returns every value the
trainer uses.
"""

from __future__ import annotations

import math
from typing import Any

from openrft.domain.hyperparameters.schema import (
    BEDROCK_ALIASES,
    FULL_BASE_LR,
    HYPERPARAMETERS,
    LORA_BASE_LR,
    METHOD_HYPERPARAMETERS,
)
from openrft.domain.hyperparameters.spec import Hyperparameter, hyperparameters_param
from openrft.errors import InvalidRequestError

REINFORCEMENT = "reinforcement"


def canonical_names(raw: dict[str, Any], method: str = REINFORCEMENT) -> dict[str, Any]:
    """Map Bedrock aliases to openrft names; reject keys ``method`` does not accept and
    alias/name clashes."""
    schema = METHOD_HYPERPARAMETERS[method]
    aliases = {alias: name for alias, name in BEDROCK_ALIASES.items() if name in schema}
    param = hyperparameters_param(method)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = aliases.get(key, key)
        if name not in schema:
            known = f" (and Bedrock aliases {', '.join(sorted(aliases))})" if aliases else ""
            raise InvalidRequestError(
                f"Unknown hyperparameter '{key}' for method '{method}'. Supported: "
                f"{', '.join(sorted(schema))}{known}.",
                param=f"{param}.{key}",
            )
        if name in out:
            raise InvalidRequestError(
                f"Hyperparameter '{name}' is given twice (once as '{key}'); give it once.",
                param=f"{param}.{key}",
            )
        out[name] = value
    return out


def _given(raw: dict[str, Any] | None, method: str) -> dict[str, Any]:
    if raw is not None and not isinstance(raw, dict):
        param = hyperparameters_param(method)
        raise InvalidRequestError(f"'{param}' must be an object.", param=param)
    return canonical_names(raw or {}, method)


def resolve_hyperparameters(
    raw: dict[str, Any] | None, *, n_train_rows: int, method: str = REINFORCEMENT
) -> dict[str, Any]:
    """Return every hyperparameter of ``method`` with "auto" resolved.

    ``n_train_rows``: rows in the training file (>= 1). ``batch_size`` is rows per step (for
    reinforcement, prompts per step; each prompt is sampled ``group_size`` times).
    """
    given = _given(raw, method)
    param = hyperparameters_param(method)
    schema = METHOD_HYPERPARAMETERS[method]
    values = {
        name: hp.kind.check(f"{param}.{name}", given.get(name, hp.default))
        for name, hp in schema.items()
    }
    return _resolve_auto(values, schema, n_train_rows=max(1, n_train_rows))


def _resolve_auto(
    values: dict[str, Any], schema: dict[str, Hyperparameter], *, n_train_rows: int
) -> dict[str, Any]:
    """Each "auto" becomes its schema value, then the rules that depend on the data apply."""
    out = {name: schema[name].auto if value == "auto" else value for name, value in values.items()}
    if values["batch_size"] == "auto":
        out["batch_size"] = min(out["batch_size"], n_train_rows)
    if values["eval_interval"] == "auto":
        steps_per_epoch = math.ceil(n_train_rows / out["batch_size"])
        out["eval_interval"] = max(1, min(out["eval_interval"], steps_per_epoch // 4 or 1))
    if values["learning_rate"] in (None, "auto"):
        base_lr = LORA_BASE_LR if out["lora_rank"] > 0 else FULL_BASE_LR
        out["learning_rate"] = out["learning_rate_multiplier"] * base_lr
    if "epsilon_high" in values and values["epsilon_high"] is None:
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
