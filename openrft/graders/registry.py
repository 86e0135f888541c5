"""Grader types by name: each registers how to validate its spec and how to build it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from openrft.errors import InvalidRequestError
from openrft.graders.types import Grader, GraderContext, ValidationContext

Validator = Callable[[dict[str, Any], str, ValidationContext], dict[str, Any]]
Builder = Callable[[dict[str, Any], GraderContext], Grader]
T = TypeVar("T")


@dataclass(frozen=True)
class GraderType:
    """``validate(spec, param, ctx) -> normalized spec``; ``build(spec, ctx) -> Grader``."""

    name: str
    validate: Validator
    build: Builder
    top_level: bool
    in_multi: bool


_TYPES: dict[str, GraderType] = {}


def register_grader(
    name: str, *, validate: Validator, top_level: bool = True, in_multi: bool = True
) -> Callable[[T], T]:
    """Class decorator: ``@register_grader("string_check", validate=validate_string_check)``."""

    def decorate(build: T) -> T:
        _TYPES[name] = GraderType(name, validate, cast(Builder, build), top_level, in_multi)
        return build

    return decorate


def grader_types() -> list[str]:
    """Registered type names, sorted."""
    return sorted(_TYPES)


def validate_spec(
    spec: Any, *, param: str, ctx: ValidationContext, top_level: bool
) -> dict[str, Any]:
    """Validate one grader spec (top level or inside ``multi``) and return it normalized."""
    if not isinstance(spec, dict):
        raise InvalidRequestError(f"{param} must be an object", param=param)
    type_name = spec.get("type")
    kind = _TYPES.get(type_name) if isinstance(type_name, str) else None
    if kind is None:
        raise InvalidRequestError(
            f"Unknown grader type {type_name!r}; expected one of {', '.join(grader_types())}",
            param=f"{param}.type",
        )
    if top_level and not kind.top_level:
        raise InvalidRequestError(
            f"A {type_name} grader is only allowed inside a multi grader", param=f"{param}.type"
        )
    if not top_level and not kind.in_multi:
        raise InvalidRequestError(
            f"A {type_name} grader cannot be nested in a multi grader", param=f"{param}.type"
        )
    name = spec.get("name", type_name)
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"{param}.name must be a non-empty string", param=f"{param}.name")
    normalized = kind.validate(spec, param, ctx)
    return {"type": type_name, "name": name, **normalized}


def build_spec(spec: dict[str, Any], ctx: GraderContext) -> Grader:
    """Build a grader from a spec returned by ``validate_spec``."""
    kind = _TYPES.get(spec.get("type", ""))
    if kind is None:
        raise InvalidRequestError(f"Unknown grader type {spec.get('type')!r}", param="grader.type")
    return kind.build(spec, ctx)
