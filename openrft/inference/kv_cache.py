"""A KV cache whose per-layer buffers grow in chunks instead of one ``torch.cat`` per token.

``DynamicLayer`` re-allocates and copies the whole cache at every decode step (quadratic in the
completion length). Here each layer owns a ``(B, H, capacity, D)`` buffer written in place and
returns views of its filled prefix; it grows by at least ``chunk`` positions when full.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer


class ChunkedLayer(DynamicLayer):
    """One decoder layer's keys/values; ``keys``/``values`` are views ``(B, H, length, D)``."""

    def __init__(self, chunk: int = 64) -> None:
        super().__init__()
        self.chunk = chunk
        self.length = 0
        self._k_buf: torch.Tensor | None = None
        self._v_buf: torch.Tensor | None = None

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``(B, H, q, D)`` states; return all cached states ``(B, H, length, D)``."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        new_len = self.length + key_states.shape[-2]
        if self._k_buf is None or new_len > self._k_buf.shape[-2]:
            self._grow(key_states, value_states, new_len)
        assert self._k_buf is not None and self._v_buf is not None
        self._k_buf[:, :, self.length : new_len] = key_states
        self._v_buf[:, :, self.length : new_len] = value_states
        self.length = new_len
        self.keys = self._k_buf[:, :, :new_len]
        self.values = self._v_buf[:, :, :new_len]
        return self.keys, self.values

    def _grow(self, key_states: torch.Tensor, value_states: torch.Tensor, needed: int) -> None:
        capacity = needed + self.chunk
        batch, heads, _, dim = key_states.shape
        k_buf = key_states.new_empty((batch, heads, capacity, dim))
        v_buf = value_states.new_empty((batch, heads, capacity, value_states.shape[-1]))
        if self._k_buf is not None and self._v_buf is not None and self.length:
            k_buf[:, :, : self.length] = self._k_buf[:, :, : self.length]
            v_buf[:, :, : self.length] = self._v_buf[:, :, : self.length]
        self._k_buf, self._v_buf = k_buf, v_buf

    def get_seq_length(self) -> int:
        return self.length

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep (or repeat) batch rows ``indices`` ``(B',)`` of the whole buffer."""
        if self._k_buf is None or self._v_buf is None:
            return
        self._k_buf = self._k_buf.index_select(0, indices)
        self._v_buf = self._v_buf.index_select(0, indices)
        self.keys = self._k_buf[:, :, : self.length]
        self.values = self._v_buf[:, :, : self.length]

    def reset(self) -> None:
        self._k_buf = self._v_buf = None
        self.length = 0
        super().reset()


def merge_left_padded(first: Cache, second: Cache, width: int, chunk: int) -> Cache:
    """Rows of ``first`` then ``second`` in a new cache of length ``width``.

    Each side's history is right-aligned at column ``width``; the columns to its left are
    zeros (masked by the caller; zeros, never uninitialized memory, so 0 × value stays 0).
    """
    layers: list[Any] = []
    for a, b in zip(first.layers, second.layers, strict=True):
        assert isinstance(a, ChunkedLayer) and isinstance(b, ChunkedLayer)
        assert a._k_buf is not None and b._k_buf is not None
        assert a._v_buf is not None and b._v_buf is not None
        merged = ChunkedLayer(chunk)
        merged.lazy_initialization(a._k_buf, a._v_buf)
        rows_a, heads, _, dim = a._k_buf.shape
        shape = (rows_a + b._k_buf.shape[0], heads, width + chunk, dim)
        k_buf, v_buf = a._k_buf.new_zeros(shape), a._v_buf.new_zeros(shape)
        for buf, src_a, src_b in ((k_buf, a._k_buf, b._k_buf), (v_buf, a._v_buf, b._v_buf)):
            buf[:rows_a, :, width - a.length : width] = src_a[:, :, : a.length]
            buf[rows_a:, :, width - b.length : width] = src_b[:, :, : b.length]
        merged._k_buf, merged._v_buf, merged.length = k_buf, v_buf, width
        merged.keys, merged.values = k_buf[:, :, :width], v_buf[:, :, :width]
        layers.append(merged)
    return Cache(layers=layers)


def new_chunked_cache(num_layers: int, chunk: int) -> Cache:
    """A cache of ``num_layers`` chunked layers, each growing ``chunk`` positions at a time."""
    return Cache(layers=[ChunkedLayer(chunk) for _ in range(num_layers)])


def select_rows(cache: Cache, indices: torch.Tensor) -> None:
    """Reorder/drop/repeat the batch rows of every layer in place; ``indices`` ``(B',)`` int64."""
    for layer in cache.layers:
        assert isinstance(layer, DynamicLayer)
        layer.batch_select_indices(indices)
