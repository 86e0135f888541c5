"""Print the README's hyperparameter table from the schema; ``--write`` puts it in README.md."""

from __future__ import annotations

import sys
from pathlib import Path

from openrft.domain.hyperparameters.table import markdown_table, with_table

README = Path(__file__).resolve().parent.parent / "README.md"

if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        README.write_text(with_table(README.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(markdown_table())
