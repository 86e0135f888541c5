"""How the engine runs the model: prefill prompts, decode one token per row, drop and merge rows.

``FastBackend`` (Llama-family models: a lean forward and a KV cache shared by each prompt's
samples) is used whenever ``fast_llama.supports`` the model; ``TransformersBackend`` runs any
other causal LM through its own ``forward``. Both keep per-row positions in their state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from openrft.inference import fast_llama
from openrft.inference.kv_cache import merge_left_padded, new_chunked_cache, select_rows
from openrft.inference.requests import BASE_ADAPTER
from openrft.inference.shared_kv import SharedKV, merge


class Backend(Protocol):
    """Model execution for ``GenerationEngine``; ``state`` is the backend's own object.

    ``adapters``: a peft adapter name per prompt (prefill) or per row (step), ``"__base__"``
    meaning none, or None for the model as it is (its active adapters). ``matmul_dtype``: the
    dtype its base products run in when not the model's (``openrft.inference.precision``).
    """

    @property
    def matmul_dtype(self) -> torch.dtype | None: ...

    def prefill(
        self,
        prompts: Sequence[Sequence[int]],
        counts: Sequence[int],
        adapters: Sequence[str] | None,
        max_new: int,
    ) -> tuple[Any, torch.Tensor]:
        """State with ``counts[i]`` rows for prompt i (in order) and their logits ``(B, V)``."""
        ...

    def step(
        self, state: Any, tokens: torch.Tensor, adapters: Sequence[str] | None
    ) -> torch.Tensor:
        """Feed ``tokens`` ``(B,)``, one per row; logits ``(B, V)`` of the next token."""
        ...

    def keep(self, state: Any, rows: torch.Tensor) -> None:
        """Keep only rows ``rows`` ``(B',)`` in order."""
        ...

    def merge(self, first: Any, second: Any, remaining: int) -> Any:
        """Rows of ``first`` then of ``second``; ``remaining``: most tokens any row still needs."""
        ...

    def release(self) -> None:
        """Free what the backend keeps between runs (weight copies); remade when next needed."""
        ...


def backend_for(model: Any, pad_id: int, matmul_dtype: torch.dtype | None = None) -> Backend:
    """The fast path when it supports ``model`` (only it honours ``matmul_dtype``)."""
    if fast_llama.supports(model):
        return FastBackend(model, matmul_dtype)
    return TransformersBackend(model, pad_id)


@dataclass
class FastState:
    kv: SharedKV
    positions: torch.Tensor  # (B,) position of each row's next input token


class FastBackend:
    def __init__(self, model: Any, matmul_dtype: torch.dtype | None = None) -> None:
        self.fast = fast_llama.FastLlama(model, matmul_dtype)

    @property
    def matmul_dtype(self) -> torch.dtype | None:
        return self.fast.cast.dtype if self.fast.cast is not None else None

    def prefill(
        self,
        prompts: Sequence[Sequence[int]],
        counts: Sequence[int],
        adapters: Sequence[str] | None,
        max_new: int,
    ) -> tuple[FastState, torch.Tensor]:
        kv, logits = self.fast.prefill(prompts, _none_for_base(adapters))
        row_prompt, positions = _rows(prompts, counts, logits.device)
        kv.expand(row_prompt, max_new)
        return FastState(kv, positions), logits.index_select(0, row_prompt)

    def step(
        self, state: FastState, tokens: torch.Tensor, adapters: Sequence[str] | None
    ) -> torch.Tensor:
        groups = fast_llama.row_groups(_none_for_base(adapters), tokens.device)
        logits = self.fast.decode(state.kv, tokens, state.positions, groups)
        state.positions = state.positions + 1
        return logits

    def keep(self, state: FastState, rows: torch.Tensor) -> None:
        state.kv.keep(rows)
        state.positions = state.positions.index_select(0, rows)

    def merge(self, first: FastState, second: FastState, remaining: int) -> FastState:
        del remaining  # the suffix cache grows on demand
        return FastState(merge(first.kv, second.kv), torch.cat([first.positions, second.positions]))

    def release(self) -> None:
        if self.fast.cast is not None:
            self.fast.cast.clear()


@dataclass
class TransformersState:
    """cache: transformers ``Cache`` of chunked layers; mask ``(B, capacity)`` with ``width``
    columns in use (= cache length, rows left-padded); positions ``(B,)``."""

    cache: Any
    mask: torch.Tensor
    width: int
    positions: torch.Tensor


class TransformersBackend:
    def __init__(self, model: Any, pad_id: int) -> None:
        self.model = model
        self.pad_id = pad_id
        self.matmul_dtype: torch.dtype | None = None  # the model's own
        self.num_layers = int(model.config.num_hidden_layers)

    def prefill(
        self,
        prompts: Sequence[Sequence[int]],
        counts: Sequence[int],
        adapters: Sequence[str] | None,
        max_new: int,
    ) -> tuple[TransformersState, torch.Tensor]:
        """One left-padded forward over the distinct prompts, then rows repeated per count."""
        device = next(self.model.parameters()).device
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long, device=device)
        mask = torch.zeros((len(prompts), width), dtype=torch.bool, device=device)
        for i, prompt in enumerate(prompts):
            ids[i, width - len(prompt) :] = torch.tensor(list(prompt), device=device)
            mask[i, width - len(prompt) :] = True
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (P, L)
        cache = new_chunked_cache(self.num_layers, chunk=max_new)
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
            **({"adapter_names": list(adapters)} if adapters else {}),
        )
        expand, row_positions = _rows(prompts, counts, device)
        if len(expand) != len(prompts):
            select_rows(cache, expand)
        full_mask = torch.zeros((len(expand), width + max_new), dtype=torch.bool, device=device)
        full_mask[:, :width] = mask.index_select(0, expand)
        state = TransformersState(cache, full_mask, width, row_positions)
        return state, out.logits[:, -1].float().index_select(0, expand)

    def step(
        self, state: TransformersState, tokens: torch.Tensor, adapters: Sequence[str] | None
    ) -> torch.Tensor:
        if state.width == state.mask.shape[1]:
            state.mask = torch.nn.functional.pad(state.mask, (0, max(16, state.width)))
        state.mask[:, state.width] = True
        state.width += 1
        out = self.model(
            input_ids=tokens[:, None],
            attention_mask=state.mask[:, : state.width],
            position_ids=state.positions[:, None],
            past_key_values=state.cache,
            use_cache=True,
            logits_to_keep=1,
            **({"adapter_names": list(adapters)} if adapters else {}),
        )
        state.positions = state.positions + 1
        return out.logits[:, -1].float()

    def keep(self, state: TransformersState, rows: torch.Tensor) -> None:
        select_rows(state.cache, rows)
        state.mask = state.mask.index_select(0, rows)
        state.positions = state.positions.index_select(0, rows)

    def merge(
        self, first: TransformersState, second: TransformersState, remaining: int
    ) -> TransformersState:
        """The narrower side is padded on the left so both end at the same cache column."""
        width = max(first.width, second.width)
        rows = first.mask.shape[0] + second.mask.shape[0]
        mask = torch.zeros(
            (rows, width + remaining + 1), dtype=torch.bool, device=first.mask.device
        )
        mask[: first.mask.shape[0], width - first.width : width] = first.mask[:, : first.width]
        mask[first.mask.shape[0] :, width - second.width : width] = second.mask[:, : second.width]
        cache = merge_left_padded(first.cache, second.cache, width, chunk=remaining + 1)
        return TransformersState(cache, mask, width, torch.cat([first.positions, second.positions]))

    def release(self) -> None:
        """Nothing is kept between runs."""


def _rows(
    prompts: Sequence[Sequence[int]], counts: Sequence[int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's prompt index ``(B,)`` (prompt i repeated ``counts[i]`` times, in order) and
    the position of its first generated token ``(B,)`` (its prompt's length)."""
    row_prompt = torch.repeat_interleave(
        torch.arange(len(prompts), device=device), torch.tensor(counts, device=device)
    )
    lengths = torch.tensor([len(p) for p in prompts], device=device)
    return row_prompt, lengths.index_select(0, row_prompt)


def _none_for_base(adapters: Sequence[str] | None) -> list[str | None] | None:
    """peft's ``"__base__"`` (no adapter) as None, the fast path's spelling."""
    if adapters is None:
        return None
    return [None if name == BASE_ADAPTER else name for name in adapters]
