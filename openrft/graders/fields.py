"""Field checks shared by grader validators; each raises InvalidRequestError naming the field."""

from __future__ import annotations

from typing import Any

from openrft.domain.grader_limits import GraderLimits, setting_hint
from openrft.errors import InvalidRequestError
from openrft.graders.templating import validate_template


def require_str(spec: dict[str, Any], key: str, param: str) -> str:
    """``spec[key]`` as a non-empty string."""
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(
            f"{param}.{key} must be a non-empty string", param=f"{param}.{key}"
        )
    return value


def require_template(spec: dict[str, Any], key: str, param: str, limits: GraderLimits) -> str:
    """``spec[key]`` as a string whose ``{{...}}`` variables parse (it may be empty)."""
    value = spec.get(key)
    if not isinstance(value, str):
        raise InvalidRequestError(f"{param}.{key} must be a string", param=f"{param}.{key}")
    validate_template(value, f"{param}.{key}", limits.template_chars)
    return value


def check_source_size(source: str, param: str, limits: GraderLimits) -> None:
    """400 when ``source`` is over the operator's code size cap."""
    size = len(source.encode())
    if size > limits.source_bytes:
        raise InvalidRequestError(
            f"{param} is {size} bytes; grader code is limited to {limits.source_bytes} bytes "
            f"on this server ({setting_hint('source_bytes')}).",
            param=param,
            code="source_too_large",
        )


def require_choice(spec: dict[str, Any], key: str, choices: tuple[str, ...], param: str) -> str:
    """``spec[key]`` as one of ``choices``."""
    value = spec.get(key)
    if value not in choices:
        raise InvalidRequestError(
            f"{param}.{key} must be one of {', '.join(choices)}; got {value!r}",
            param=f"{param}.{key}",
        )
    return str(value)


def _out_of_range(value: float, minimum: float, maximum: float | None) -> bool:
    return value < minimum or (maximum is not None and value > maximum)


def _range_text(minimum: float, maximum: float | None, cap: str | None = None) -> str:
    if maximum is None:
        return f">= {minimum}"
    text = f"from {minimum} to {maximum}"
    return f"{text} (this server's cap: {setting_hint(cap)})" if cap else text


def optional_number(
    spec: dict[str, Any],
    key: str,
    default: float,
    param: str,
    *,
    minimum: float = 0.0,
    maximum: float | None = None,
    cap: str | None = None,
) -> float:
    """``spec[key]`` as a number in [minimum, maximum] (``default`` when absent); ``cap``: the
    setting that sets ``maximum``, named in the error."""
    value = spec.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or _out_of_range(value, minimum, maximum)
    ):
        raise InvalidRequestError(
            f"{param}.{key} must be a number {_range_text(minimum, maximum, cap)}",
            param=f"{param}.{key}",
        )
    return float(value)


def optional_int(
    spec: dict[str, Any],
    key: str,
    default: int,
    param: str,
    *,
    minimum: int,
    maximum: int | None = None,
    cap: str | None = None,
) -> int:
    """``spec[key]`` as an integer in [minimum, maximum] (``default`` when absent); ``cap``: the
    setting that sets ``maximum``, named in the error."""
    value = spec.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or _out_of_range(value, minimum, maximum)
    ):
        raise InvalidRequestError(
            f"{param}.{key} must be an integer {_range_text(minimum, maximum, cap)}",
            param=f"{param}.{key}",
        )
    return value
