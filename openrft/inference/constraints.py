"""Grammar-constrained rows of a decode batch: mask their logits before sampling, advance after.

A row with a ``matcher`` (an xgrammar ``GrammarMatcher``, one per sample) may only sample tokens
its grammar allows next: the matcher fills a per-row token bitmask and disallowed logits become
``-inf`` in place, for those rows only, so unconstrained rows (and batches without any
constrained row) cost nothing extra. xgrammar is imported only when a constrained row exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from openrft.inference.decode_batch import DecodeRow


def new_matcher(grammar: Any) -> Any:
    """A fresh matcher for one sample of a request with compiled ``grammar`` (or None)."""
    if grammar is None:
        return None
    import xgrammar as xgr

    return xgr.GrammarMatcher(grammar)


def constrained_rows(rows: Sequence[DecodeRow]) -> list[int]:
    """Indices of the live rows that follow a grammar."""
    return [
        i for i, row in enumerate(rows) if row.matcher is not None and row.finish_reason is None
    ]


def mask_logits(
    logits: torch.Tensor, rows: Sequence[DecodeRow], indices: list[int]
) -> torch.Tensor:
    """Set the logits of tokens each constrained row may not take next to ``-inf``.

    logits ``(B, V)``; returns them as float32 (masked in place when they already were)."""
    import xgrammar as xgr

    logits = logits.float().contiguous()
    bitmask = xgr.allocate_token_bitmask(logits.shape[0], logits.shape[1])  # (B, ceil(V/32))
    for i in indices:
        rows[i].matcher.fill_next_token_bitmask(bitmask, i)
    xgr.apply_token_bitmask_inplace(logits, bitmask, indices=indices)
    return logits


def accept_tokens(
    rows: Sequence[DecodeRow], indices: list[int], tokens: torch.Tensor, logits: torch.Tensor
) -> None:
    """Advance each constrained row's matcher by its sampled token.

    tokens ``(B,)``, logits ``(B, V)`` as masked. A sampler can, at the edge of float rounding,
    land on a zero-probability token; such a token is replaced by the row's best allowed one."""
    for i in indices:
        matcher = rows[i].matcher
        if matcher.accept_token(int(tokens[i])):
            continue
        best = int(logits[i].argmax())
        tokens[i] = best
        if not matcher.accept_token(best):
            raise RuntimeError("the output grammar allows no next token")


def grammar_finished(row: DecodeRow) -> bool:
    """True once the row's grammar is complete (its stop token accepted)."""
    return row.matcher is not None and bool(row.matcher.is_terminated())
