"""What one hyperparameter is: its kind of value (with bounds), default, help and names.

A kind checks a request value (raising the 400 that names the field) and says in words what it
accepts; the same words go into the error and into the README table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from openrft.errors import InvalidRequestError


class Kind(Protocol):
    @property
    def expected(self) -> str:
        """What the field accepts, as words ("an integer between 1 and 256")."""
        ...

    def check(self, name: str, value: Any) -> Any:
        """The value to use (numbers coerced), or an ``InvalidRequestError`` naming ``name``
        (the field's full path in the request)."""
        ...


def hyperparameters_param(method: str) -> str:
    """Where a method's hyperparameters sit in a create request."""
    return f"method.{method}.hyperparameters"


def invalid(name: str, expected: str, value: Any) -> InvalidRequestError:
    """``name``: the field's full path in the request (``method.dpo.hyperparameters.beta``)."""
    return InvalidRequestError(
        f"Invalid value for '{name}': expected {expected}, got {value!r}.", param=name
    )


@dataclass(frozen=True, kw_only=True)
class _Bounded:
    """A numeric kind that may also accept the string "auto" (``auto``) or null (``null``)."""

    auto: bool = False
    null: bool = False

    def _expected(self, span: str) -> str:
        return ('"auto" or ' if self.auto else "") + span + (" or null" if self.null else "")

    def _passes(self, value: Any) -> bool:
        return (self.auto and value == "auto") or (self.null and value is None)


@dataclass(frozen=True)
class Integer(_Bounded):
    """An int in ``[lo, hi]`` (``hi`` None: no upper bound)."""

    lo: int
    hi: int | None = None

    @property
    def expected(self) -> str:
        if self.hi is None:
            return self._expected(f"an integer >= {self.lo}")
        return self._expected(f"an integer between {self.lo} and {self.hi}")

    def check(self, name: str, value: Any) -> Any:
        if self._passes(value):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, self.expected, value)
        if value < self.lo or (self.hi is not None and value > self.hi):
            raise invalid(name, self.expected, value)
        return value


@dataclass(frozen=True)
class Number(_Bounded):
    """A finite number above ``lo`` (strictly when ``lo_open``), at most ``hi``; a float."""

    lo: float
    hi: float | None = None
    lo_open: bool = False

    @property
    def expected(self) -> str:
        low = f"> {self.lo}" if self.lo_open else f">= {self.lo}"
        return self._expected(f"a number {low}" + ("" if self.hi is None else f" and <= {self.hi}"))

    def check(self, name: str, value: Any) -> Any:
        if self._passes(value):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(name, self.expected, value)
        below = value <= self.lo if self.lo_open else value < self.lo
        if not math.isfinite(value) or below or (self.hi is not None and value > self.hi):
            raise invalid(name, self.expected, value)
        return float(value)


@dataclass(frozen=True)
class Boolean:
    """true or false (JSON booleans only: 0, 1 and "true" are errors)."""

    @property
    def expected(self) -> str:
        return "true or false"

    def check(self, name: str, value: Any) -> Any:
        if not isinstance(value, bool):
            raise invalid(name, self.expected, value)
        return value


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (strings)."""

    options: tuple[str, ...]

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(f'"{o}"' for o in self.options)

    def check(self, name: str, value: Any) -> Any:
        if value not in self.options:
            raise invalid(name, self.expected, value)
        return value


@dataclass(frozen=True)
class Object:
    """An object of named sub-fields; null or a missing key takes the sub-field's default."""

    fields: tuple[Hyperparameter, ...]

    @property
    def expected(self) -> str:
        return "an object {" + ", ".join(f.name for f in self.fields) + "} or null"

    @property
    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields}

    def check(self, name: str, value: Any) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise invalid(name, self.expected, value)
        allowed = self.defaults
        for key in value:
            if key not in allowed:
                raise InvalidRequestError(
                    f"Unknown key '{key}' in '{name}'; allowed: {', '.join(allowed)}.",
                    param=f"{name}.{key}",
                )
        merged = {**allowed, **value}
        return {f.name: f.kind.check(f"{name}.{f.name}", merged[f.name]) for f in self.fields}


@dataclass(frozen=True)
class Hyperparameter:
    """One field of ``method.<type>.hyperparameters``.

    default: the value when the request leaves the field out ("auto" and null allowed).
    auto: what "auto" (or a null ``default``) stands for when the training data does not change
        it; also the trainer's default when a ``TrainConfig`` is built without a request and
        ``default`` is "auto" or null.
    openai: OpenAI's own field (else an openrft extension). bedrock: Bedrock's name for it,
        accepted as an alias. trains: ``TrainConfig`` has a field of this name (False: the value
        is folded into another one, or has no effect). no_effect: why setting it changes nothing
        here; the job gets a warning event when the request sets it.
    shown_default: the README's default column when ``default`` itself would not say it.
    """

    name: str
    kind: Kind
    default: Any
    help: str
    openai: bool = False
    bedrock: str | None = None
    auto: Any = None
    trains: bool = True
    no_effect: str | None = None
    shown_default: str | None = None

    @property
    def trainer_default(self) -> Any:
        if self.auto is not None and (self.default is None or self.default == "auto"):
            return self.auto
        return self.default
