"""The README's hyperparameter table, from the schema (``scripts/hyperparameter_table.py``)."""

from __future__ import annotations

import json
from typing import Any

from openrft.domain.hyperparameters.schema import HYPERPARAMETERS
from openrft.domain.hyperparameters.spec import Hyperparameter, Object

BEGIN = "<!-- hyperparameters:begin (generated: python scripts/hyperparameter_table.py --write) -->"
END = "<!-- hyperparameters:end -->"


def _literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else "null" if value is None else f"{value}"


def _default(hp: Hyperparameter) -> str:
    if hp.shown_default is not None:
        return hp.shown_default
    if isinstance(hp.kind, Object):
        inner = ", ".join(f"{k}: {_literal(v)}" for k, v in hp.kind.defaults.items())
        return f"`{{{inner}}}`"
    return f"`{_literal(hp.default)}`"


def _meaning(hp: Hyperparameter) -> str:
    if isinstance(hp.kind, Object):
        return "; ".join([hp.help, *(f"`{f.name}`: {f.help}" for f in hp.kind.fields)])
    return hp.help


def _row(hp: Hyperparameter) -> str:
    names = f"`{hp.name}`" + (f" (Bedrock `{hp.bedrock}`)" if hp.bedrock else "")
    source = "OpenAI" if hp.openai else "openrft"
    cells = (names, source, _default(hp), hp.kind.expected, _meaning(hp))
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def markdown_table() -> str:
    """The table, one row per hyperparameter in schema order (OpenAI's fields first)."""
    head = "| name | from | default | accepts | meaning |\n|---|---|---|---|---|"
    return "\n".join([head, *(_row(hp) for hp in HYPERPARAMETERS.values())])


def with_table(readme: str) -> str:
    """``readme`` with the text between the table markers replaced by ``markdown_table()``."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + markdown_table() + "\n" + readme[end:]
