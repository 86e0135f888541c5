"""The hyperparameter schema is the one source: README table, aliases, no-effect warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from openrft.domain.hyperparameters import (
    BEDROCK_ALIASES,
    HYPERPARAMETERS,
    no_effect_warnings,
    resolve_hyperparameters,
)
from openrft.domain.hyperparameters.table import BEGIN, END, markdown_table, with_table

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_table_is_the_schemas() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert table == markdown_table(), "run: python scripts/hyperparameter_table.py --write"
    assert with_table(text) == text


def test_table_has_a_row_per_hyperparameter_with_its_bedrock_name() -> None:
    rows = markdown_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == list(HYPERPARAMETERS)
    for alias in BEDROCK_ALIASES:
        assert f"(Bedrock `{alias}`)" in markdown_table()


def test_the_schema_imports_no_torch() -> None:
    code = "import sys, openrft.domain.hyperparameters; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_bedrock_reasoning_effort_is_an_alias() -> None:
    hp = resolve_hyperparameters({"reasoningEffort": "high"}, n_train_rows=4)
    assert hp["reasoning_effort"] == "high" and "reasoningEffort" not in hp


def test_no_effect_fields_set_by_the_request_are_named() -> None:
    raw = {"reasoningEffort": "high", "compute_multiplier": 2, "batch_size": 2}
    first, second = no_effect_warnings(raw)
    assert first.startswith("Hyperparameter 'reasoningEffort' (reasoning_effort) = 'high'")
    assert first.split(": ", 1)[1].startswith("rollouts are sampled with temperature")
    assert second.startswith("Hyperparameter 'compute_multiplier' = 2 has no effect here")


def test_no_effect_fields_left_at_their_default_are_not_warned_about() -> None:
    assert no_effect_warnings({"reasoning_effort": "auto", "compute_multiplier": "auto"}) == []
    assert no_effect_warnings(None) == []


def test_only_fields_the_trainer_ignores_carry_a_no_effect_note() -> None:
    for hp in HYPERPARAMETERS.values():
        assert hp.no_effect is None or not hp.trains, hp.name
