"""The ``fine-tune-results`` CSV: one row per training step (plus the step-0 baseline)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

LEADING_COLUMNS = (
    "step",
    "train_reward_mean",
    "train_reward_std",
    "valid_reward_mean",
    "actor_pg_loss",
    "actor_kl",
    "actor_entropy",
    "actor_grad_norm",
    "response_length_mean",
)


def results_csv(rows: Sequence[Mapping[str, float | int | None]]) -> bytes:
    """CSV with the standard columns first, then every other key seen, sorted; blanks for
    values a row lacks (e.g. ``valid_reward_mean`` on steps without evaluation)."""
    extra = sorted({key for row in rows for key in row} - set(LEADING_COLUMNS))
    columns = list(LEADING_COLUMNS) + extra
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue().encode("utf-8")
