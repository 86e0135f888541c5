from __future__ import annotations

import math

import pytest

from openrft.graders.formula import FormulaError, parse_formula


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(a + b) / 2", 0.75),
        ("a + b * 2", 2.5),
        ("2 ^ 3 ^ 2", 512.0),
        ("-2 ^ 2", -4.0),
        ("--a", 0.5),
        ("min(a, b, 0.2)", 0.2),
        ("max(a)", 0.5),
        ("abs(a - b)", 0.5),
        ("floor(2.7) + ceil(0.1)", 3.0),
        ("sqrt(4) * exp(0) + log(1)", 2.0),
        ("1e-1 * 10", 1.0),
        (".5 + a", 1.0),
    ],
)
def test_evaluates_hand_checked_values(text: str, expected: float) -> None:
    formula = parse_formula(text, {"a", "b"})
    assert math.isclose(formula.evaluate({"a": 0.5, "b": 1.0}), expected)


@pytest.mark.parametrize(
    "text",
    ["", "a +", "(a + b", "a b", "c + a", "foo(a)", "abs(a, b)", "a $ b", "__import__('os')", "a)"],
)
def test_rejects_bad_formulas(text: str) -> None:
    with pytest.raises(FormulaError):
        parse_formula(text, {"a", "b"})


def test_runtime_errors_are_formula_errors() -> None:
    with pytest.raises(FormulaError):
        parse_formula("a / b", {"a", "b"}).evaluate({"a": 1.0, "b": 0.0})
    with pytest.raises(FormulaError):
        parse_formula("log(a)", {"a"}).evaluate({"a": 0.0})


def test_reports_used_names() -> None:
    assert parse_formula("a * 2", {"a", "b"}).names == frozenset({"a"})
