"""Validation of the Bedrock-style ``lambda`` grader: ``function`` is a URL, a file or an ARN.

``{"type": "lambda", "lambda": {"function": F, "batch_size": 64, "concurrency": 8,
"timeout_s": 300, "max_retries": 3}}``. ``F`` is an http(s) URL (it must pass the server's egress
policy), an AWS Lambda ARN, ``file-abc123:handler`` (a ``.py`` file the caller uploaded with
purpose ``grader``) or ``path/to/file.py:handler`` under ``--grader-base-dir``. A handler's source
is checked with ``ast`` (never imported here) and inlined under ``_source`` so the worker depends
on neither the upload nor the server's file system.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openrft.errors import InvalidRequestError
from openrft.graders.fields import check_source_size, optional_int, optional_number, require_str
from openrft.graders.python_grader import check_function
from openrft.graders.types import ValidationContext
from openrft.net.egress import EgressPolicy, unreachable_message

ARN = re.compile(r"^arn:aws[\w-]*:lambda:([\w-]+):\d{12}:function:[\w-]+(:[\w$-]+)?$")
UPLOADED = re.compile(r"^(file-[A-Za-z0-9_-]+):([A-Za-z_]\w*)$")
CONNECT_TIMEOUT_S = 3.0
# Timeout and retries are capped by settings (``GraderLimits``) so one job cannot hold a job
# slot for years.
MAX_CONCURRENCY = 64


def function_kind(function: str) -> str:
    """``"http"``, ``"arn"``, ``"upload"`` (a file id) or ``"file"`` (a path)."""
    if function.startswith(("http://", "https://")):
        return "http"
    if function.startswith("arn:"):
        return "arn"
    if UPLOADED.match(function):
        return "upload"
    return "file"


def validate_lambda(spec: dict[str, Any], param: str, ctx: ValidationContext) -> dict[str, Any]:
    config = spec.get("lambda")
    if not isinstance(config, dict):
        raise InvalidRequestError(f"{param}.lambda must be an object", param=f"{param}.lambda")
    param = f"{param}.lambda"
    function = require_str(config, "function", param)
    normalized: dict[str, Any] = {
        "function": function,
        "batch_size": optional_int(config, "batch_size", 64, param, minimum=1),
        "concurrency": optional_int(
            config, "concurrency", 8, param, minimum=1, maximum=MAX_CONCURRENCY
        ),
        "timeout_s": optional_number(
            config,
            "timeout_s",
            min(300.0, ctx.limits.lambda_timeout_s),
            param,
            minimum=0.001,
            maximum=ctx.limits.lambda_timeout_s,
            cap="lambda_timeout_s",
        ),
        "max_retries": optional_int(
            config,
            "max_retries",
            min(3, ctx.limits.lambda_retries),
            param,
            minimum=0,
            maximum=ctx.limits.lambda_retries,
            cap="lambda_retries",
        ),
    }
    kind = function_kind(function)
    if kind == "http":
        check_reachable(function, ctx.egress, f"{param}.function")
    elif kind == "arn":
        check_arn(function, f"{param}.function")
    elif kind == "upload":
        normalized |= load_uploaded_handler(function, ctx, f"{param}.function")
    else:
        normalized |= load_handler(function, ctx, f"{param}.function")
    return {"lambda": normalized}


def check_reachable(url: str, egress: EgressPolicy, param: str) -> None:
    """Open (and close) a TCP connection to the URL's host and port, through ``egress``.

    Refused, timed out, unresolvable and not allowed all give the same message: validation is
    not a port scanner."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        host = None
    if not host:
        raise InvalidRequestError(f"{param}: the URL has no valid host and port", param=param)
    try:
        egress.connect(host, port, CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise InvalidRequestError(f"{param}: {unreachable_message(url)}", param=param) from exc


def check_arn(arn: str, param: str) -> None:
    if ARN.match(arn) is None:
        raise InvalidRequestError(
            f"{param}: {arn!r} is not an AWS Lambda function ARN", param=param
        )
    if importlib.util.find_spec("boto3") is None:
        raise InvalidRequestError(
            "AWS Lambda ARNs need boto3 on the server: pip install 'openrft[aws]'", param=param
        )


# One answer for every refusal, so a tenant learns nothing of the server's file system.
_HANDLER_REFUSED = (
    "{param}: no handler file is available at that path. A 'file.py:handler' function must name "
    "a readable UTF-8 '.py' file of at most {limit} bytes (--max-grader-source-bytes) inside "
    "the server's grader directory (--grader-base-dir), given relative to it."
)


_UPLOAD_REFUSED = (
    "{param}: no grader file {file_id} in this project. Upload the handler as a '.py' file "
    "with purpose 'grader' and name it as 'file-...:handler'."
)


def load_uploaded_handler(function: str, ctx: ValidationContext, param: str) -> dict[str, Any]:
    """``"file-abc:handler"`` → ``{"_source", "_handler", "_filename"}`` of the caller's upload."""
    match = UPLOADED.match(function)
    assert match is not None
    file_id, handler = match.groups()
    found = ctx.read_upload(file_id) if ctx.read_upload is not None else None
    if found is None:
        raise InvalidRequestError(_UPLOAD_REFUSED.format(param=param, file_id=file_id), param=param)
    name, source = found
    check_source_size(source, param, ctx.limits)
    check_function(source, handler, 2, param)
    return {"_source": source, "_handler": handler, "_filename": name}


def load_handler(function: str, ctx: ValidationContext, param: str) -> dict[str, Any]:
    """``"dir/reward.py:handler"`` → ``{"_source", "_handler", "_filename"}``.

    The file must lie inside ``base_dir`` once symlinks are resolved; ``base_dir`` None refuses
    every file handler."""
    path_text, _, handler = function.rpartition(":")
    if not path_text.endswith(".py") or not handler.isidentifier():
        raise InvalidRequestError(
            f"{param} must be an http(s) URL, an AWS Lambda ARN, 'file-abc123:handler' (an "
            "uploaded .py file, purpose 'grader') or 'path/to/file.py:handler'",
            param=param,
        )
    limit = ctx.limits.source_bytes
    found = _read_inside(path_text, ctx.base_dir, limit)
    if found is None:
        raise InvalidRequestError(_HANDLER_REFUSED.format(param=param, limit=limit), param=param)
    name, source = found
    check_function(source, handler, 2, param)
    return {"_source": source, "_handler": handler, "_filename": name}


def _read_inside(path_text: str, base_dir: Path | None, limit: int) -> tuple[str, str] | None:
    """(file name, source) of ``path_text`` under ``base_dir``, at most ``limit`` bytes; None
    for any refusal."""
    if base_dir is None or "\x00" in path_text:
        return None
    try:
        root = base_dir.resolve(strict=True)
        path = (root / path_text).resolve(strict=True)
        if not path.is_relative_to(root) or not path.is_file():
            return None
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            return None
        return path.name, data.decode()
    except (OSError, UnicodeDecodeError, ValueError):
        return None
