"""A KV cache where each prompt's keys/values are stored once and shared by all its samples.

A GRPO group decodes ``n`` samples of one prompt; copying the prompt's KV ``n`` times multiplies
the memory read at every decode step by ``n``. Here the cache has two parts per layer:

- prefix: ``(P, KVH, Lp, D)``, one row per prompt (right-padded to the longest, ``prefix_valid``
  marks real positions);
- suffix: ``(B, KVH, capacity, D)``, one row per sample, the tokens generated so far (a row's
  unused columns are masked by ``suffix_valid``).

Rows are kept sorted by prompt, so a prompt's samples are contiguous. Attention scores against
the prefix are one batched matmul per prompt over all its samples' queries; against the suffix
one per row; one softmax spans both. Keys carry their rotary position already, so the column a
key sits in does not matter: merging batches never re-aligns columns.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class PackedPrompts:
    """Several prompts concatenated into one unpadded sequence of ``T`` tokens.

    token_ids, positions, token_prompt ``(T,)``: id, position in its prompt, index of its
    prompt (into the whole prefill); prompt_ids / lengths: the prompts in this pack;
    spans: where each prompt sits in the ``T`` tokens; last_index ``(n,)``: where each
    prompt's last token sits.
    """

    token_ids: torch.Tensor
    positions: torch.Tensor
    token_prompt: torch.Tensor
    prompt_ids: list[int]
    lengths: list[int]
    spans: list[slice]
    last_index: torch.Tensor

    @classmethod
    def split(
        cls, prompts: Sequence[Sequence[int]], budget: int, device: torch.device
    ) -> list[PackedPrompts]:
        """Consecutive prompts packed while a pack holds ≤ ``budget`` tokens (a longer prompt
        gets a pack of its own)."""
        packs: list[list[int]] = [[]]
        size = 0
        for index, prompt in enumerate(prompts):
            if packs[-1] and size + len(prompt) > budget:
                packs.append([])
                size = 0
            packs[-1].append(index)
            size += len(prompt)
        return [cls._pack(prompts, members, device) for members in packs]

    @classmethod
    def _pack(
        cls, prompts: Sequence[Sequence[int]], members: list[int], device: torch.device
    ) -> PackedPrompts:
        lengths = [len(prompts[i]) for i in members]
        ids = [token for i in members for token in prompts[i]]
        positions = [p for length in lengths for p in range(length)]
        owner = [i for i, length in zip(members, lengths, strict=True) for _ in range(length)]
        ends = list(itertools.accumulate(lengths))
        return cls(
            token_ids=torch.tensor(ids, dtype=torch.long, device=device),
            positions=torch.tensor(positions, dtype=torch.long, device=device),
            token_prompt=torch.tensor(owner, dtype=torch.long, device=device),
            prompt_ids=members,
            lengths=lengths,
            spans=[slice(end - n, end) for end, n in zip(ends, lengths, strict=True)],
            last_index=torch.tensor(ends, device=device) - 1,
        )


class SharedKV:
    """The decode cache of a batch of rows (samples) over a set of prompts (see module doc)."""

    def __init__(
        self,
        prefix_k: list[torch.Tensor],
        prefix_v: list[torch.Tensor],
        prefix_valid: torch.Tensor,
    ) -> None:
        self.prefix_k, self.prefix_v, self.prefix_valid = prefix_k, prefix_v, prefix_valid
        device = prefix_valid.device
        self.row_prompt = torch.arange(prefix_valid.shape[0], device=device)  # (B,)
        self.suffix_k: list[torch.Tensor] = []
        self.suffix_v: list[torch.Tensor] = []
        self.suffix_valid = torch.zeros((len(self.row_prompt), 0), dtype=torch.bool, device=device)
        self.width = 0  # suffix columns in use
        self._layout()

    @property
    def num_rows(self) -> int:
        return int(self.row_prompt.shape[0])

    @property
    def num_prompts(self) -> int:
        return int(self.prefix_valid.shape[0])

    def store_prompts(
        self, layer: int, pack: PackedPrompts, k: torch.Tensor, v: torch.Tensor
    ) -> None:
        """Write a pack's keys/values ``(T, KVH, D)`` into the prefix of ``layer``."""
        self.prefix_k[layer][pack.token_prompt, :, pack.positions] = k
        self.prefix_v[layer][pack.token_prompt, :, pack.positions] = v

    def expand(self, row_prompt: torch.Tensor, capacity: int) -> None:
        """Start decoding rows ``row_prompt`` ``(B,)`` (sorted prompt indices) with room for
        ``capacity`` generated tokens each."""
        self.row_prompt = row_prompt
        self.suffix_k, self.suffix_v = [], []
        self.suffix_valid = torch.zeros(
            (len(row_prompt), capacity), dtype=torch.bool, device=row_prompt.device
        )
        self.width = 0
        self._layout()

    def begin_step(self) -> None:
        """Open the next suffix column for every row and build this step's attention bias."""
        if self.width == self.suffix_valid.shape[1]:
            self._grow(max(16, self.width))
        self.suffix_valid[:, self.width] = True
        self.width += 1
        valid = torch.cat(
            [
                self.prefix_valid.index_select(0, self.row_prompt),
                self.suffix_valid[:, : self.width],
            ],
            dim=1,
        )
        zero = torch.zeros((), dtype=self.prefix_k[0].dtype, device=valid.device)
        self.bias = torch.where(valid, zero, float("-inf"))[:, None, None, :]  # (B, 1, 1, L)

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> None:
        """Write this step's keys/values ``(B, KVH, D)`` of ``layer`` at the open column."""
        if len(self.suffix_k) <= layer:
            shape = (self.num_rows, k.shape[1], self.suffix_valid.shape[1], k.shape[2])
            self.suffix_k.append(k.new_zeros(shape))
            self.suffix_v.append(v.new_zeros(shape))
        self.suffix_k[layer][:, :, self.width - 1] = k
        self.suffix_v[layer][:, :, self.width - 1] = v

    def keep(self, rows: torch.Tensor) -> None:
        """Keep rows ``rows`` ``(B',)`` (in order); prompts left without rows are dropped."""
        self.row_prompt = self.row_prompt.index_select(0, rows)
        self.suffix_valid = self.suffix_valid.index_select(0, rows)
        self.suffix_k = [t.index_select(0, rows) for t in self.suffix_k]
        self.suffix_v = [t.index_select(0, rows) for t in self.suffix_v]
        alive = torch.unique_consecutive(self.row_prompt)
        if len(alive) < self.num_prompts:
            self.prefix_k = [t.index_select(0, alive) for t in self.prefix_k]
            self.prefix_v = [t.index_select(0, alive) for t in self.prefix_v]
            self.prefix_valid = self.prefix_valid.index_select(0, alive)
            self.row_prompt = torch.searchsorted(alive, self.row_prompt)
        self._layout()

    def _grow(self, extra: int) -> None:
        self.suffix_valid = torch.nn.functional.pad(self.suffix_valid, (0, extra))
        self.suffix_k = [torch.nn.functional.pad(t, (0, 0, 0, extra)) for t in self.suffix_k]
        self.suffix_v = [torch.nn.functional.pad(t, (0, 0, 0, extra)) for t in self.suffix_v]

    def _layout(self) -> None:
        """Each row's slot in a ``(P, J)`` grid of prompts × samples (J = largest group)."""
        counts = torch.bincount(self.row_prompt, minlength=self.num_prompts)
        self.slots = int(counts.max()) if self.num_rows else 0
        starts = counts.cumsum(0) - counts
        slot = torch.arange(self.num_rows, device=counts.device) - starts[self.row_prompt]
        self.flat_index = self.row_prompt * self.slots + slot
        self.dense = self.num_rows == self.num_prompts * self.slots


def shared_kv_for_prompts(
    lengths: Sequence[int],
    num_layers: int,
    kv_heads: int,
    head_dim: int,
    *,
    dtype: torch.dtype,
    device: torch.device,
) -> SharedKV:
    """An empty prefix for prompts of ``lengths`` (filled by ``store_prompts``), one row each."""
    shape = (len(lengths), kv_heads, max(lengths), head_dim)
    valid = (
        torch.arange(max(lengths), device=device)[None, :]
        < torch.tensor(lengths, device=device)[:, None]
    )
    return SharedKV(
        [torch.zeros(shape, dtype=dtype, device=device) for _ in range(num_layers)],
        [torch.zeros(shape, dtype=dtype, device=device) for _ in range(num_layers)],
        valid,
    )


def merge(first: SharedKV, second: SharedKV) -> SharedKV:
    """Rows of ``first`` then rows of ``second`` (continuous batching), each keeping its KV."""
    length = max(first.prefix_valid.shape[1], second.prefix_valid.shape[1])
    merged = SharedKV(
        [
            _cat_padded(a, b, length, dim=2)
            for a, b in zip(first.prefix_k, second.prefix_k, strict=True)
        ],
        [
            _cat_padded(a, b, length, dim=2)
            for a, b in zip(first.prefix_v, second.prefix_v, strict=True)
        ],
        _cat_padded(first.prefix_valid, second.prefix_valid, length, dim=1),
    )
    width = max(first.width, second.width)
    capacity = max(first.suffix_valid.shape[1], second.suffix_valid.shape[1])
    merged.row_prompt = torch.cat([first.row_prompt, second.row_prompt + first.num_prompts])
    merged.suffix_valid = _cat_padded(first.suffix_valid, second.suffix_valid, capacity, dim=1)
    if first.suffix_k or second.suffix_k:
        merged.suffix_k = _cat_layers(first, second, capacity, first.suffix_k, second.suffix_k)
        merged.suffix_v = _cat_layers(first, second, capacity, first.suffix_v, second.suffix_v)
    merged.width = width
    merged._layout()
    return merged


def attend(kv: SharedKV, layer: int, q: torch.Tensor, scale: float) -> torch.Tensor:
    """Attention of one query per row ``(B, H, D)`` over its prompt's prefix and its own
    suffix (this step's key included) → ``(B, H * D)``."""
    rows, heads, dim = q.shape
    kv_heads = kv.prefix_k[layer].shape[1]
    group = heads // kv_heads  # query heads per KV head (GQA)
    q = q.view(rows, kv_heads, group, dim)
    prefix_len = kv.prefix_k[layer].shape[2]
    scores_prefix = _from_grid(
        kv, torch.matmul(_to_grid(kv, q), kv.prefix_k[layer].transpose(-1, -2)), group
    )  # (B, KVH, G, Lp)
    suffix_k = kv.suffix_k[layer][:, :, : kv.width]
    suffix_v = kv.suffix_v[layer][:, :, : kv.width]
    scores_suffix = torch.matmul(q, suffix_k.transpose(-1, -2))  # (B, KVH, G, S)
    scores = torch.cat([scores_prefix, scores_suffix], dim=-1) * scale + kv.bias
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    probs_prefix, probs_suffix = probs.split([prefix_len, kv.width], dim=-1)
    out = _from_grid(kv, torch.matmul(_to_grid(kv, probs_prefix), kv.prefix_v[layer]), group)
    out = out + torch.matmul(probs_suffix, suffix_v)  # (B, KVH, G, D)
    return out.reshape(rows, heads * dim)


def _to_grid(kv: SharedKV, x: torch.Tensor) -> torch.Tensor:
    """Per-row ``(B, KVH, G, N)`` → per-prompt ``(P, KVH, J * G, N)`` (empty slots zero)."""
    _, kv_heads, group, n = x.shape
    if not kv.dense:
        grid = x.new_zeros((kv.num_prompts * kv.slots, kv_heads, group, n))
        x = grid.index_copy_(0, kv.flat_index, x)
    x = x.view(kv.num_prompts, kv.slots, kv_heads, group, n).transpose(1, 2)
    return x.reshape(kv.num_prompts, kv_heads, kv.slots * group, n)


def _from_grid(kv: SharedKV, x: torch.Tensor, group: int) -> torch.Tensor:
    """Inverse of ``_to_grid``: ``(P, KVH, J * G, N)`` → ``(B, KVH, G, N)``."""
    prompts, kv_heads, _, n = x.shape
    x = x.view(prompts, kv_heads, kv.slots, group, n).transpose(1, 2)
    x = x.reshape(prompts * kv.slots, kv_heads, group, n)
    return x if kv.dense else x.index_select(0, kv.flat_index)


def _cat_padded(a: torch.Tensor, b: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    """Concatenate along dim 0 after right-padding ``dim`` of each to ``length``."""
    padded = []
    for t in (a, b):
        pad = [0, 0] * (t.dim() - 1 - dim) + [0, length - t.shape[dim]]
        padded.append(torch.nn.functional.pad(t, pad))
    return torch.cat(padded)


def _cat_layers(
    first: SharedKV,
    second: SharedKV,
    capacity: int,
    a: list[torch.Tensor],
    b: list[torch.Tensor],
) -> list[torch.Tensor]:
    """Per layer suffix buffers of both sides stacked by row (a side not started yet: zeros)."""
    template = (a or b)[0]
    out = []
    for layer in range(len(a or b)):
        parts = []
        for side, buffers in ((first, a), (second, b)):
            shape = (side.num_rows, template.shape[1], capacity, template.shape[3])
            part = template.new_zeros(shape)
            if buffers:
                part[:, :, : buffers[layer].shape[2]] = buffers[layer]
            parts.append(part)
        out.append(torch.cat(parts))
    return out
