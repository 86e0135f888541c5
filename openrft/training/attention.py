"""Training's attention: short sequences as two batched matmuls, grouped query heads unrepeated.

transformers' ``sdpa`` attention, given a mask on CPU, first copies each key and value head once
per query head that reads it (``repeat_kv``), then calls torch's flash kernel, whose fixed cost
per block dominates at a training micro-batch's size (a group's 47 completion tokens against
86 keys: 9 query heads over 3 key heads in SmolLM2). Here each key head's query heads are
stacked as the rows of one matrix, so ``Q Kᵀ`` and ``P V`` are two ``bmm`` per layer and nothing
is repeated. Measured on a 2-core Intel Xeon (2026-12-04), forward and backward of that shape:
2.98 ms with ``sdpa``, 1.83 ms with ``sdpa``'s own ``enable_gqa``, 1.40 ms here.

A mask enters as an additive bias of the scores' layout, which ``baddbmm`` adds as it multiplies
(fused with the scaling): masking the scores in place, a view of them, made autograd copy them
back in backward. Forward and backward per layer, that way and this way (2026-12-04, same CPU):
a group packed in one row (376 queries against 416 keys) 12.5-13.2 and 9.0-10.1 ms; 8 rows of
47 queries against 87 keys 2.5 and 2.0 ms; 16 such rows 5.9-6.2 and 4.2-4.5 ms.

Completions packed back to back in one row (``training.scoring``) see the prompt and their own
earlier tokens only; a row's mask then blocks most of its scores, and computing them is most of
the row's attention. Given ``PackedCompletions`` (``PACKED_KWARG``, which the scoring pass hands
through the model's forward), each completion's queries are gathered and attended to the prompt
and its own keys alone. A packed row of 8 completions (295 tokens after a 40-token prompt),
forward and backward per layer: 6.2-6.7 ms over the whole row, 3.4-3.6 ms per completion; the
learning workload's training pass 8.78 vs 8.96 s (medians of 4 alternating in one process,
real completion lengths; in two fresh processes 9.19 vs 9.15 s: within this host's noise).

The scores are materialized, so sequences whose scores would exceed ``MAX_SCORE_BYTES`` take
transformers' ``sdpa`` path unchanged, as do calls with dropout or a position bias, tensors off
the CPU (GPU kernels were not measured against this) and other dtypes than float32 (``sdpa``
keeps a bfloat16 model's softmax in float32; two plain ``bmm`` would not). Masks are
those ``sdpa`` takes (registered with the same mask function): boolean (True attends) or
additive, or none with causal attention. A row that may attend to nothing gets uniform weights
instead of NaN, as transformers' eager attention does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

# The attention implementation's name in transformers' registries.
NAME = "openrft_sdpa"
# Above this many bytes of scores (batch × heads × queries × keys × 4) the flash kernel,
# which never materializes them, is used.
MAX_SCORE_BYTES = 64 << 20
# The keyword argument that carries ``PackedCompletions`` through a transformers model's forward
# to each layer's attention.
PACKED_KWARG = "openrft_packed_completions"


@dataclass(frozen=True)
class PackedCompletions:
    """Where each completion's tokens sit in a pass's packed rows, which follow one prompt.

    tokens ``(N × L,)``: each completion's token positions in the rows' ``K × W`` tokens
    (flattened), in order; past its length they repeat its last one and ``valid`` ``(N, L)``
    is False. row ``(N,)``: the row that holds it. inverse ``(K × W,)``: for each token of the
    rows, its place ``n × L + step`` in that order, ``N × L`` at padding. allowed
    ``(N, 1, L, P + L)``: which keys each completion's tokens see (the whole prompt, then its
    own tokens up to themselves), built once for every layer of the pass.
    """

    tokens: torch.Tensor
    valid: torch.Tensor
    row: torch.Tensor
    inverse: torch.Tensor
    allowed: torch.Tensor

    @classmethod
    def from_segments(cls, segment: torch.Tensor, prompt_len: int) -> PackedCompletions:
        """From ``(K, W)`` segment ids (each token's completion, -1 at padding; a completion's
        tokens are contiguous in one row) after a prompt of ``prompt_len`` tokens."""
        flat = segment.flatten()
        ids = torch.unique(flat[flat >= 0])
        spans = [torch.nonzero(flat == i).flatten() for i in ids.tolist()]
        longest = max(len(span) for span in spans)
        steps = torch.arange(longest, device=segment.device)
        lengths = torch.tensor([len(span) for span in spans], device=segment.device)
        starts = torch.stack([span[0] for span in spans])
        valid = steps[None] < lengths[:, None]
        tokens = (starts[:, None] + torch.minimum(steps[None], lengths[:, None] - 1)).flatten()
        inverse = torch.full_like(flat, valid.numel())
        inverse[tokens[valid.flatten()]] = torch.nonzero(valid.flatten()).flatten()
        causal = torch.ones(longest, longest, dtype=torch.bool, device=segment.device).tril()
        own = causal[None] & valid[:, None, :]  # (N, L, L)
        allowed = torch.cat([own.new_ones(len(spans), longest, prompt_len), own], dim=2)
        return cls(tokens, valid, starts // segment.shape[1], inverse, allowed[:, None])


def grouped_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """``softmax(Q Kᵀ · scaling + mask) V`` for query ``(B, H, q, D)`` and key, value
    ``(B, KV, k, D)`` with ``H = KV × groups``; returns ``(B, q, H, D)`` as ``sdpa`` does."""
    batch, heads, q_len, dim = query.shape
    kv_heads, k_len = key.shape[1], key.shape[2]
    score_bytes = batch * heads * q_len * k_len * query.element_size()
    if (
        dropout
        or kwargs.get("position_bias") is not None
        or score_bytes > MAX_SCORE_BYTES
        or query.device.type != "cpu"
        or query.dtype != torch.float32
    ):
        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            is_causal=is_causal,
            **kwargs,
        )
    scale = dim**-0.5 if scaling is None else scaling
    packed = kwargs.get(PACKED_KWARG)
    if packed is not None:
        return _packed_attention(query, key, value, packed, scale), None
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    if attention_mask is None and causal and q_len > 1:
        # sdpa's is_causal aligns the mask top-left: keys past the queries are never seen.
        key, value, k_len = key[:, :, :q_len], value[:, :, :q_len], q_len
        attention_mask = torch.ones(q_len, q_len, dtype=torch.bool, device=query.device).tril()
    groups = heads // kv_heads
    # Query head h reads key head h // groups: stack each key head's queries as rows.
    rows = query.reshape(batch * kv_heads, groups * q_len, dim)
    keys = key.reshape(batch * kv_heads, k_len, dim).transpose(1, 2)
    if attention_mask is None:
        scores = torch.bmm(rows, keys).mul_(scale)
    else:
        # The mask as an additive bias in the scores' layout, added by the matmul itself: in
        # place on a view of the scores, autograd would copy them back in backward (CopySlices).
        bias = _bias(attention_mask, query.dtype, (batch, kv_heads, groups, q_len, k_len))
        scores = torch.baddbmm(bias, rows, keys, alpha=scale)
    weights = scores.softmax(dim=-1)
    out = torch.bmm(weights, value.reshape(batch * kv_heads, k_len, dim))
    return out.view(batch, heads, q_len, dim).transpose(1, 2).contiguous(), None


def _packed_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    packed: PackedCompletions,
    scale: float,
) -> torch.Tensor:
    """Attention of packed rows computed per completion: each against its row's prompt and
    its own earlier tokens only, never the row's other completions (see module doc).

    query ``(K, H, W, D)``; key, value ``(K, KV, P + W, D)``: the prompt's ``P`` then the rows'.
    Returns ``(K, W, H, D)``, zeros at padding."""
    rows, heads, width, dim = query.shape
    kv_heads, prompt_len = key.shape[1], key.shape[2] - width
    groups, (count, length) = heads // kv_heads, packed.valid.shape
    # Gathers and scatters are index_select, whose backward (index_add) is cheaper on CPU than
    # advanced indexing's (index_put with accumulation).
    tokens = query.transpose(1, 2).reshape(rows * width, heads, dim)
    own_q = tokens.index_select(0, packed.tokens).view(count, length, kv_heads, groups, dim)
    rows_q = own_q.permute(0, 2, 3, 1, 4).reshape(count * kv_heads, groups * length, dim)

    def keys_of(states: torch.Tensor) -> torch.Tensor:
        """A completion's prompt then its own tokens: (N × KV, P + L, D)."""
        own = states[:, :, prompt_len:].transpose(1, 2).reshape(rows * width, kv_heads, dim)
        own = own.index_select(0, packed.tokens).view(count, length, kv_heads, dim)
        prompt = states[:, :, :prompt_len].index_select(0, packed.row)  # (N, KV, P, D)
        return torch.cat([prompt, own.transpose(1, 2)], dim=2).reshape(count * kv_heads, -1, dim)

    bias = _bias(packed.allowed, query.dtype, (count, kv_heads, groups, length, -1))
    scores = torch.baddbmm(bias, rows_q, keys_of(key).transpose(1, 2), alpha=scale)
    out = torch.bmm(scores.softmax(dim=-1), keys_of(value))  # (N × KV, groups × L, D)
    out = out.view(count, kv_heads, groups, length, dim).permute(0, 3, 1, 2, 4)
    out = torch.cat([out.reshape(count * length, heads, dim), out.new_zeros(1, heads, dim)])
    return out.index_select(0, packed.inverse).view(rows, width, heads, dim)


def _bias(mask: torch.Tensor, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    """A boolean (True attends) or additive mask ``(B or 1, H or 1, q, k)`` as an additive
    bias ``(B × KV, groups × q, k)`` for scores laid out ``(B, KV, groups, q, k)``."""
    batch, kv_heads, groups, q_len, k_len = shape
    if mask.dim() == 2:
        mask = mask[None, None]
    if mask.shape[1] == 1:
        mask = mask.unsqueeze(2)
    else:
        mask = mask.view(mask.shape[0], kv_heads, groups, *mask.shape[2:])
    if mask.dtype == torch.bool:
        blocked = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
        mask = blocked.masked_fill_(mask.logical_not(), torch.finfo(dtype).min)
    return mask.to(dtype).expand(shape).reshape(batch * kv_heads, groups * q_len, k_len)


def register() -> str:
    """Register the implementation with transformers (idempotent); its name."""
    AttentionInterface.register(NAME, grouped_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME
