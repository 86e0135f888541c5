"""The ``integrations`` field of a job: OpenAI's ``wandb`` and openrft's ``mlflow`` extension.

Checked at job creation so that a missing package or missing credentials is a 400 then, not a
failure in the middle of a run. Importing this module imports neither tracker.
"""

from __future__ import annotations

import importlib.util
import netrc
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

from openrft.errors import InvalidRequestError

PARAM = "integrations"
MAX_INTEGRATIONS = 5  # OpenAI's limit
MAX_TAGS = 50
MAX_NAME_CHARS = 128
MAX_TAG_CHARS = 64  # W&B's own limit on a tag
INSTALL_HINT = "install the server with `pip install 'openrft[trackers]'`"
# WANDB_MODE values that never talk to a W&B server, so need no API key.
WANDB_LOCAL_MODES = frozenset({"offline", "dryrun", "disabled"})
WANDB_DEFAULT_HOST = "https://api.wandb.ai"

FIELDS = {
    "wandb": {"project", "name", "entity", "tags"},
    "mlflow": {"experiment_name", "run_name", "tags"},
}
PACKAGES = {"wandb": "wandb", "mlflow": "mlflow"}


def module_available(name: str) -> bool:
    """True when ``name`` can be imported (without importing it)."""
    return importlib.util.find_spec(name) is not None


def wandb_credentials(environ: Mapping[str, str]) -> bool:
    """True when the W&B client will find what it needs: a local mode (offline, disabled),
    ``WANDB_API_KEY``, or a netrc entry for the W&B host (what ``wandb login`` writes)."""
    if environ.get("WANDB_MODE", "").lower() in WANDB_LOCAL_MODES:
        return True
    if environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(environ.get("WANDB_BASE_URL") or WANDB_DEFAULT_HOST).hostname or ""
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def check_integrations(
    value: Any,
    *,
    job_id: str,
    available: Callable[[str], bool] = module_available,
    environ: Mapping[str, str] | None = None,
) -> list[dict[str, Any]] | None:
    """The normalized integrations to store and echo (None when absent).

    ``wandb`` gets OpenAI's echo (``entity`` and ``run_id``, the job id, which is also the
    W&B run id); ``available`` and ``environ`` are what the server can import and its
    environment (the training worker inherits both)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidRequestError(
            'integrations must be a list such as [{"type": "wandb", "wandb": {"project": "p"}}].',
            param=PARAM,
        )
    if len(value) > MAX_INTEGRATIONS:
        raise InvalidRequestError(
            f"At most {MAX_INTEGRATIONS} integrations are allowed; {len(value)} were given.",
            param=PARAM,
        )
    env = os.environ if environ is None else environ
    return [
        _integration(item, f"{PARAM}.{i}", job_id, available, env) for i, item in enumerate(value)
    ]


def _integration(
    item: Any,
    param: str,
    job_id: str,
    available: Callable[[str], bool],
    environ: Mapping[str, str],
) -> dict[str, Any]:
    kind = item.get("type") if isinstance(item, dict) else None
    if kind not in FIELDS:
        raise InvalidRequestError(
            "An integration's type must be 'wandb' (Weights & Biases) or 'mlflow'.",
            param=f"{param}.type",
        )
    for key in item:
        if key not in ("type", kind):
            raise InvalidRequestError(
                f"Unknown field '{key}' in a {kind} integration; give 'type' and '{kind}'.",
                param=f"{param}.{key}",
            )
    settings = item.get(kind)
    if not isinstance(settings, dict):
        raise InvalidRequestError(
            f"A {kind} integration needs its settings object '{kind}'.", param=f"{param}.{kind}"
        )
    param = f"{param}.{kind}"
    for key in settings:
        if key not in FIELDS[kind]:
            raise InvalidRequestError(
                f"Unknown field '{key}' in {kind} settings; allowed: "
                f"{', '.join(sorted(FIELDS[kind]))}.",
                param=f"{param}.{key}",
            )
    normalized = _wandb(settings, param, job_id) if kind == "wandb" else _mlflow(settings, param)
    _check_ready(kind, param, available, environ)
    return {"type": kind, kind: normalized}


def _check_ready(
    kind: str, param: str, available: Callable[[str], bool], environ: Mapping[str, str]
) -> None:
    if not available(PACKAGES[kind]):
        raise InvalidRequestError(
            f"The {kind} integration is not available on this server: the '{PACKAGES[kind]}' "
            f"package is not installed ({INSTALL_HINT}).",
            param=param,
            code="integration_unavailable",
        )
    if kind == "wandb" and not wandb_credentials(environ):
        raise InvalidRequestError(
            "The wandb integration has no credentials on this server: set WANDB_API_KEY (or "
            "run `wandb login`) where the server runs, or WANDB_MODE=offline to keep runs on "
            "its disk.",
            param=param,
            code="integration_unavailable",
        )


def _wandb(settings: dict[str, Any], param: str, job_id: str) -> dict[str, Any]:
    return {
        "project": _name(settings.get("project"), f"{param}.project", required=True),
        "name": _name(settings.get("name"), f"{param}.name"),
        "entity": _name(settings.get("entity"), f"{param}.entity"),
        "tags": _tags(settings.get("tags"), f"{param}.tags"),
        "run_id": job_id,
    }


def _mlflow(settings: dict[str, Any], param: str) -> dict[str, Any]:
    tags = settings.get("tags")
    if tags is not None and not (
        isinstance(tags, dict)
        and len(tags) <= MAX_TAGS
        and all(isinstance(v, str) and len(v) <= 5000 for v in tags.values())
        and all(0 < len(k) <= 250 for k in tags)
    ):
        raise InvalidRequestError(
            f"mlflow.tags must be an object of at most {MAX_TAGS} string values (keys up to "
            "250 characters, values up to 5000).",
            param=f"{param}.tags",
        )
    return {
        "experiment_name": _name(
            settings.get("experiment_name"), f"{param}.experiment_name", required=True
        ),
        "run_name": _name(settings.get("run_name"), f"{param}.run_name"),
        "tags": dict(tags or {}),
    }


def _name(value: Any, param: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value.strip()) <= MAX_NAME_CHARS:
        raise InvalidRequestError(
            f"{param} must be a non-empty string of at most {MAX_NAME_CHARS} characters"
            + ("." if required else ", or null."),
            param=param,
        )
    return value


def _tags(value: Any, param: str) -> list[str]:
    if value is None:
        return []
    if not (
        isinstance(value, list)
        and len(value) <= MAX_TAGS
        and all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_CHARS for t in value)
    ):
        raise InvalidRequestError(
            f"{param} must be a list of at most {MAX_TAGS} strings of 1-{MAX_TAG_CHARS} "
            "characters.",
            param=param,
        )
    return list(value)
