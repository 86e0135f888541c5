"""The ``calculate_output`` expression language of the multi grader, by recursive descent.

Grammar (``^`` is power, right-associative, binding tighter than unary minus)::

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/") unary)*
    unary := ("+" | "-") unary | power
    power := atom ("^" unary)?
    atom  := NUMBER | NAME | FUNC "(" expr ("," expr)* ")" | "(" expr ")"

No ``eval``: the parser builds a tree of closures over a name→value environment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

Env = dict[str, float]
Node = Callable[[Env], float]

_TOKEN = re.compile(
    r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)|(.))"
)
FUNCTIONS: dict[str, tuple[Callable[..., float], int | None]] = {
    "min": (lambda *args: min(args), None),
    "max": (lambda *args: max(args), None),
    "abs": (abs, 1),
    "floor": (lambda x: float(math.floor(x)), 1),
    "ceil": (lambda x: float(math.ceil(x)), 1),
    "exp": (math.exp, 1),
    "sqrt": (math.sqrt, 1),
    "log": (math.log, 1),
}
_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "^": lambda a, b: a**b,
}


class FormulaError(ValueError):
    """The formula does not parse, names an unknown variable, or fails to evaluate."""


@dataclass(frozen=True)
class Formula:
    """A parsed formula: ``evaluate({"name": 1.0, ...}) -> float``."""

    text: str
    names: frozenset[str]
    root: Node

    def evaluate(self, env: Env) -> float:
        try:
            value = float(self.root(env))
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise FormulaError(f"cannot evaluate {self.text!r}: {exc}") from exc
        if not math.isfinite(value):
            raise FormulaError(f"{self.text!r} evaluated to {value}")
        return value


def parse_formula(text: str, variables: frozenset[str] | set[str]) -> Formula:
    """Parse ``text``; every name must be in ``variables`` or be a function call."""
    parser = _Parser(_tokenize(text), frozenset(variables))
    root = parser.expr()
    if parser.peek() is not None:
        raise FormulaError(f"unexpected {parser.peek()!r} in {text!r}")
    return Formula(text, frozenset(parser.used), root)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for number, name, symbol in _TOKEN.findall(text.strip()):
        if number:
            tokens.append(("num", number))
        elif name:
            tokens.append(("name", name))
        elif symbol in "+-*/^(),":
            tokens.append(("sym", symbol))
        elif symbol.strip():
            raise FormulaError(f"unexpected character {symbol!r} in {text!r}")
    if not tokens:
        raise FormulaError("empty formula")
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], variables: frozenset[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.variables = variables
        self.used: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def peek_symbol(self) -> str | None:
        """The next token if it is an operator or bracket, else None."""
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "sym":
            return self.tokens[self.pos][1]
        return None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise FormulaError("unexpected end of formula")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expect(self, symbol: str) -> None:
        kind, value = self.take()
        if (kind, value) != ("sym", symbol):
            raise FormulaError(f"expected {symbol!r}, got {value!r}")

    def binary_chain(self, operators: str, operand: Callable[[], Node]) -> Node:
        node = operand()
        while (symbol := self.peek_symbol()) is not None and symbol in operators:
            op = _BINARY[self.take()[1]]
            node = _combine(op, node, operand())
        return node

    def expr(self) -> Node:
        return self.binary_chain("+-", self.term)

    def term(self) -> Node:
        return self.binary_chain("*/", self.unary)

    def unary(self) -> Node:
        if self.peek_symbol() in ("+", "-"):
            sign = -1.0 if self.take()[1] == "-" else 1.0
            inner = self.unary()
            return lambda env: sign * inner(env)
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek_symbol() == "^":
            self.take()
            return _combine(_BINARY["^"], base, self.unary())
        return base

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            number = float(value)
            return lambda env: number
        if kind == "name":
            return self.call(value) if self.peek_symbol() == "(" else self.variable(value)
        if value == "(":
            node = self.expr()
            self.expect(")")
            return node
        raise FormulaError(f"unexpected {value!r}")

    def variable(self, name: str) -> Node:
        if name not in self.variables:
            known = ", ".join(sorted(self.variables)) or "none"
            raise FormulaError(f"unknown name {name!r} (graders: {known})")
        self.used.add(name)
        return lambda env: env[name]

    def call(self, name: str) -> Node:
        if name not in FUNCTIONS:
            raise FormulaError(f"unknown function {name!r}; use {', '.join(FUNCTIONS)}")
        func, arity = FUNCTIONS[name]
        self.expect("(")
        args = [self.expr()]
        while self.peek_symbol() == ",":
            self.take()
            args.append(self.expr())
        self.expect(")")
        if arity is not None and len(args) != arity:
            raise FormulaError(f"{name}() takes {arity} argument(s), got {len(args)}")
        return lambda env: float(func(*(arg(env) for arg in args)))


def _combine(op: Callable[[float, float], float], left: Node, right: Node) -> Node:
    return lambda env: op(left(env), right(env))
