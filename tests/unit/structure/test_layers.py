"""Imports point inward (STYLE.md "Layers"): api → services → domain / rl; adapters never reach
back into services or api; protocol speaks only in domain types.

Every module's imports are read from its syntax tree, including imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import openrft

PACKAGE = Path(openrft.__file__).parent

# Layer (first package under openrft) → openrft layers it must not import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "protocol": frozenset(
        {"api", "services", "db", "storage", "inference", "training", "graders", "executors"}
    ),
    "domain": frozenset(
        {
            "api",
            "services",
            "protocol",
            "db",
            "storage",
            "inference",
            "training",
            "graders",
            "executors",
            "demo",
        }
    ),
    "rl": frozenset(
        {
            "api",
            "services",
            "protocol",
            "db",
            "storage",
            "inference",
            "training",
            "graders",
            "executors",
            "demo",
        }
    ),
    **{
        adapter: frozenset({"api", "services", "demo"})
        for adapter in ("db", "storage", "inference", "training", "graders", "executors", "net")
    },
    "services": frozenset({"api", "demo"}),
}
# Third-party packages a pure layer must not import.
FORBIDDEN_THIRD_PARTY: dict[str, frozenset[str]] = {
    "domain": frozenset({"fastapi", "sqlalchemy", "torch", "transformers", "httpx"}),
    "rl": frozenset({"fastapi", "sqlalchemy", "httpx"}),
    "protocol": frozenset({"sqlalchemy", "torch"}),
}


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations(layer: str, modules: set[str]) -> list[str]:
    bad = []
    for name in sorted(modules):
        parts = name.split(".")
        if parts[0] == "openrft" and len(parts) > 1 and parts[1] in FORBIDDEN.get(layer, ()):
            bad.append(name)
        if parts[0] in FORBIDDEN_THIRD_PARTY.get(layer, ()):
            bad.append(name)
    return bad


def test_imports_point_inward() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) < 2 or "migrations" in rel.parts:
            continue
        for name in violations(rel.parts[0], imported_modules(ast.parse(path.read_text()))):
            found.append(f"{rel} imports {name}")
    assert found == []


def test_the_check_catches_a_bad_import() -> None:
    tree = ast.parse("def f():\n    from openrft.services.jobs import JobService\n")
    assert violations("training", imported_modules(tree)) == ["openrft.services.jobs"]
    assert violations("domain", imported_modules(ast.parse("import torch"))) == ["torch"]
    assert violations("services", imported_modules(ast.parse("import openrft.domain"))) == []
