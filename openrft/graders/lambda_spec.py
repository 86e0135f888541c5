"""Validation of the Bedrock-style ``lambda`` grader: ``function`` is a URL, a file or an ARN.

``{"type": "lambda", "lambda": {"function": F, "batch_size": 64, "concurrency": 8,
"timeout_s": 300, "max_retries": 3}}``. A ``path/to/file.py:handler`` is checked with ``ast``
(never imported here) and its source is inlined under ``_source`` so the worker does not depend
on the server's working directory.
"""

from __future__ import annotations

import importlib.util
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openrft.errors import InvalidRequestError
from openrft.graders.fields import optional_int, optional_number, require_str
from openrft.graders.python_grader import MAX_SOURCE_BYTES, check_function

ARN = re.compile(r"^arn:aws[\w-]*:lambda:([\w-]+):\d{12}:function:[\w-]+(:[\w$-]+)?$")
CONNECT_TIMEOUT_S = 3.0
# Caps so one job cannot hold a job slot for years: AWS Lambda's own 15-minute ceiling.
MAX_TIMEOUT_S = 900.0
MAX_RETRIES = 10
MAX_CONCURRENCY = 64


def function_kind(function: str) -> str:
    """``"http"``, ``"arn"`` or ``"file"``."""
    if function.startswith(("http://", "https://")):
        return "http"
    if function.startswith("arn:"):
        return "arn"
    return "file"


def validate_lambda(spec: dict[str, Any], param: str, base_dir: Path | None) -> dict[str, Any]:
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
            config, "timeout_s", 300.0, param, minimum=0.001, maximum=MAX_TIMEOUT_S
        ),
        "max_retries": optional_int(
            config, "max_retries", 3, param, minimum=0, maximum=MAX_RETRIES
        ),
    }
    kind = function_kind(function)
    if kind == "http":
        check_reachable(function, f"{param}.function")
    elif kind == "arn":
        check_arn(function, f"{param}.function")
    else:
        normalized |= load_handler(function, base_dir, f"{param}.function")
    return {"lambda": normalized}


def check_reachable(url: str, param: str) -> None:
    """Open (and close) a TCP connection to the URL's host and port."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise InvalidRequestError(f"{param}: {url!r} has no host", param=param)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise InvalidRequestError(
            f"Lambda URL {url} is not reachable from the server: {exc}", param=param
        ) from exc


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
    "a readable UTF-8 '.py' file of at most 256 kB inside the server's grader directory "
    "(--grader-base-dir), given relative to it."
)


def load_handler(function: str, base_dir: Path | None, param: str) -> dict[str, Any]:
    """``"dir/reward.py:handler"`` → ``{"_source", "_handler", "_filename"}``.

    The file must lie inside ``base_dir`` once symlinks are resolved; ``base_dir`` None refuses
    every file handler."""
    path_text, _, handler = function.rpartition(":")
    if not path_text.endswith(".py") or not handler.isidentifier():
        raise InvalidRequestError(
            f"{param} must be an http(s) URL, an AWS Lambda ARN or 'path/to/file.py:handler'",
            param=param,
        )
    found = _read_inside(path_text, base_dir)
    if found is None:
        raise InvalidRequestError(_HANDLER_REFUSED.format(param=param), param=param)
    name, source = found
    check_function(source, handler, 2, param)
    return {"_source": source, "_handler": handler, "_filename": name}


def _read_inside(path_text: str, base_dir: Path | None) -> tuple[str, str] | None:
    """(file name, source) of ``path_text`` under ``base_dir``; None for any refusal."""
    if base_dir is None or "\x00" in path_text:
        return None
    try:
        root = base_dir.resolve(strict=True)
        path = (root / path_text).resolve(strict=True)
        if not path.is_relative_to(root) or not path.is_file():
            return None
        with path.open("rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
        if len(data) > MAX_SOURCE_BYTES:
            return None
        return path.name, data.decode()
    except (OSError, UnicodeDecodeError, ValueError):
        return None
