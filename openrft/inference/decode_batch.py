"""The decode state of a batch of rows: dropping finished rows and merging in new ones.

Model-side state (KV cache, positions) belongs to the backend (``openrft.inference.backends``);
this module keeps the per-row bookkeeping next to it and in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from openrft.inference.backends import Backend
from openrft.inference.requests import BASE_ADAPTER, Completion, FinishReason, GenerationRequest


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
    constraint: Any = None  # TokenConstraint of this sample, when decoding is constrained

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

    state: the backend's; temperature / top_p ``(B,)``; logits ``(B, V)`` for the next token;
    tokens ``(B,)`` the last sampled tokens (the next forward's input); adapter_names: peft
    adapter per row, or None.
    """

    rows: list[DecodeRow]
    state: Any
    temperature: torch.Tensor
    top_p: torch.Tensor
    logits: torch.Tensor
    tokens: torch.Tensor | None = None
    adapter_names: list[str] | None = None

    def live_indices(self) -> list[int]:
        return [i for i, row in enumerate(self.rows) if row.finish_reason is None]

    def keep(self, indices: list[int], backend: Backend) -> None:
        """Keep only rows ``indices`` in every tensor and in the backend state."""
        keep = torch.tensor(indices, dtype=torch.long, device=self.logits.device)
        backend.keep(self.state, keep)
        self.rows = [self.rows[i] for i in indices]
        self.temperature = self.temperature.index_select(0, keep)
        self.top_p = self.top_p.index_select(0, keep)
        self.logits = self.logits.index_select(0, keep)
        if self.tokens is not None:
            self.tokens = self.tokens.index_select(0, keep)
        if self.adapter_names is not None:
            self.adapter_names = [self.adapter_names[i] for i in indices]


def merge_batches(old: DecodeBatch, new: DecodeBatch, backend: Backend) -> DecodeBatch:
    """``old`` rows then ``new`` rows, both at the phase "sample from logits"."""
    remaining = max(r.request.params.max_new_tokens - len(r.token_ids) for r in old.rows + new.rows)
    adapters = None
    if old.adapter_names is not None or new.adapter_names is not None:
        adapters = (old.adapter_names or [BASE_ADAPTER] * len(old.rows)) + (
            new.adapter_names or [BASE_ADAPTER] * len(new.rows)
        )
    return DecodeBatch(
        rows=old.rows + new.rows,
        state=backend.merge(old.state, new.state, remaining),
        temperature=torch.cat([old.temperature, new.temperature]),
        top_p=torch.cat([old.top_p, new.top_p]),
        logits=torch.cat([old.logits, new.logits]),
        adapter_names=adapters,
    )
