"""The decode state of a batch of rows: dropping finished rows and merging in new ones.

Rows are left-aligned to one shared width: column ``j`` of the attention mask and of the KV
cache is the same step for every row, and rows with shorter history are padded (masked) on the
left. Positions are per row, so padding never shifts rotary positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from openrft.inference.kv_cache import merge_left_padded, select_rows
from openrft.inference.requests import Completion, FinishReason, GenerationRequest

BASE_ADAPTER = "__base__"


@dataclass(eq=False)
class DecodeRow:
    """One sample being decoded."""

    request: GenerationRequest
    sample: int
    stop_ids: frozenset[int]
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    finish_reason: FinishReason | None = None

    def completion(self) -> Completion:
        return Completion(
            token_ids=self.token_ids,
            logprobs=self.logprobs,
            finish_reason=self.finish_reason or "length",
            top_logprobs=self.top_logprobs if self.request.params.top_logprobs else None,
        )


@dataclass
class DecodeBatch:
    """Tensors indexed by position in ``rows``.

    mask ``(B, capacity)`` bool with ``width`` columns in use (= the cache length); positions
    ``(B,)`` of the next input token; temperature / top_p ``(B,)``; logits ``(B, V)`` for the
    next token; tokens ``(B,)`` the last sampled tokens (the next forward's input);
    adapter_names: peft adapter per row, or None.
    """

    rows: list[DecodeRow]
    cache: Any
    mask: torch.Tensor
    width: int
    positions: torch.Tensor
    temperature: torch.Tensor
    top_p: torch.Tensor
    logits: torch.Tensor
    tokens: torch.Tensor | None = None
    adapter_names: list[str] | None = None

    def live_indices(self) -> list[int]:
        return [i for i, row in enumerate(self.rows) if row.finish_reason is None]

    def keep(self, indices: list[int]) -> None:
        """Keep only rows ``indices`` in every tensor and in the KV cache."""
        keep = torch.tensor(indices, dtype=torch.long, device=self.mask.device)
        select_rows(self.cache, keep)
        self.rows = [self.rows[i] for i in indices]
        self.mask = self.mask.index_select(0, keep)
        self.positions = self.positions.index_select(0, keep)
        self.temperature = self.temperature.index_select(0, keep)
        self.top_p = self.top_p.index_select(0, keep)
        self.logits = self.logits.index_select(0, keep)
        if self.tokens is not None:
            self.tokens = self.tokens.index_select(0, keep)
        if self.adapter_names is not None:
            self.adapter_names = [self.adapter_names[i] for i in indices]


def merge_batches(old: DecodeBatch, new: DecodeBatch) -> DecodeBatch:
    """``old`` rows then ``new`` rows, both at the phase "sample from logits".

    The narrower batch is padded on the left so both end at the same cache column.
    """
    width = max(old.width, new.width)
    remaining = max(r.request.params.max_new_tokens - len(r.token_ids) for r in old.rows + new.rows)
    mask = torch.zeros(
        (len(old.rows) + len(new.rows), width + remaining + 1),
        dtype=torch.bool,
        device=old.mask.device,
    )
    mask[: len(old.rows), width - old.width : width] = old.mask[:, : old.width]
    mask[len(old.rows) :, width - new.width : width] = new.mask[:, : new.width]
    adapters = None
    if old.adapter_names is not None or new.adapter_names is not None:
        adapters = (old.adapter_names or [BASE_ADAPTER] * len(old.rows)) + (
            new.adapter_names or [BASE_ADAPTER] * len(new.rows)
        )
    return DecodeBatch(
        rows=old.rows + new.rows,
        cache=merge_left_padded(old.cache, new.cache, width, chunk=remaining + 1),
        mask=mask,
        width=width,
        positions=torch.cat([old.positions, new.positions]),
        temperature=torch.cat([old.temperature, new.temperature]),
        top_p=torch.cat([old.top_p, new.top_p]),
        logits=torch.cat([old.logits, new.logits]),
        adapter_names=adapters,
    )
