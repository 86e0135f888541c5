"""A job's status changes only through ``JobRepository.transition``.

Walks the package's syntax trees: a ``status=`` handed to an SQL update, a ``values`` call or a
repository ``update`` anywhere else would be a second, unchecked way to move a job.
"""

from __future__ import annotations

import ast
from pathlib import Path

import openrft

PACKAGE = Path(openrft.__file__).parent
REPO = PACKAGE / "db" / "jobs_repo.py"
WRITES = {"update", "values", "_set"}


def _status_writes(tree: ast.AST) -> list[tuple[str, int]]:
    """(enclosing function, line) of every write call that sets ``status``."""
    found: list[tuple[str, int]] = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in WRITES:
                continue
            dicts = [a for a in node.args if isinstance(a, ast.Dict)]
            dicts += [
                k.value for k in node.keywords if k.arg is None and isinstance(k.value, ast.Dict)
            ]
            keys = {key.value for d in dicts for key in d.keys if isinstance(key, ast.Constant)}
            if "status" in keys or any(k.arg == "status" for k in node.keywords):
                found.append((func.name, node.lineno))
    return found


def test_no_module_but_the_jobs_repository_writes_a_status() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} ({func})"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != REPO and "migrations" not in path.parts
        for func, line in _status_writes(ast.parse(path.read_text()))
    ]
    assert offenders == []


def test_the_jobs_repository_writes_a_status_only_in_transition_and_add() -> None:
    writers = {func for func, _ in _status_writes(ast.parse(REPO.read_text()))}
    assert writers <= {"transition", "add"}
    assert "transition" in writers


def test_the_check_sees_a_status_write() -> None:
    bad = "def cancel(repo):\n    repo.update('ftjob-1', status='cancelled')\n"
    assert _status_writes(ast.parse(bad)) == [("cancel", 2)]
