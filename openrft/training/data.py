"""Training and validation rows: reading JSONL, the seeded hold-out split, the epoch order."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

Row = dict[str, Any]
HOLDOUT_FRACTION = 0.1


def read_jsonl(path: Path) -> list[Row]:
    """Rows of a JSONL file (blank lines skipped). The control plane validated the format."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def holdout_split(rows: Sequence[Row], seed: int) -> tuple[list[Row], list[Row]]:
    """Seeded split into (train, validation) with ceil(10%) validation rows (at least 1).

    With a single row, that row serves as both, so training still has data.
    """
    if len(rows) < 2:
        return list(rows), list(rows)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_valid = max(1, math.ceil(HOLDOUT_FRACTION * len(rows)))
    valid_idx = set(order[:n_valid])
    train = [row for i, row in enumerate(rows) if i not in valid_idx]
    valid = [rows[i] for i in sorted(valid_idx)]
    return train, valid


def steps_per_epoch(n_rows: int, batch_size: int) -> int:
    """Optimizer batches per epoch; the last batch of an epoch may be smaller."""
    return math.ceil(n_rows / batch_size)


def epoch_batches(n_rows: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Row indices of each step of ``epoch``, in an order fixed by (seed, epoch)."""
    order = list(range(n_rows))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [order[i : i + batch_size] for i in range(0, n_rows, batch_size)]


def step_batches(
    n_rows: int, batch_size: int, seed: int, n_epochs: int
) -> Iterator[tuple[int, list[int]]]:
    """Yield ``(epoch, row_indices)`` for every step of the run, in order (step 1 first)."""
    for epoch in range(n_epochs):
        for batch in epoch_batches(n_rows, batch_size, seed, epoch):
            yield epoch, batch
