"""Per-token log-probs of a group's completions, with the prompt computed once per group.

The prompt is the same for all ``G`` samples of a group: one forward over it builds the KV
cache, which every completion reads (gradients flow back through the shared prompt states). The
learner computes all prompts of a step in one forward instead (``training.prompt_batch``).
The completions are fed packed, back to back without padding, each attending to the prompt and
to its own earlier tokens (a custom 4D mask): a group's completions of very different lengths
cost their real tokens, not G × the longest. Logits are taken only at completion positions, in
chunks (``rl.logprobs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from openrft.rl import completion_logprobs
from openrft.training import attention
from openrft.training.prompt_batch import PromptStates, full_attention

# Completions of a group are fed back to back in rows of up to this many tokens (no padding
# between them); each attends to the prompt and to its own earlier tokens only.
PACK_TOKENS = 512
# Packing is used when it computes at most this share of the padded layout's tokens: its
# attention spans a whole row, so it only pays when completions' lengths differ.
PACKED_SHARE = 0.9


class PromptPrefixCache(DynamicCache):
    """A group's prompt KV, read-only: ``update`` returns prompt states + the new ones and
    stores nothing, so a checkpointed decoder layer can be replayed in backward."""

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        layer: Any = self.layers[layer_idx]
        keys = torch.cat([layer.keys, key_states], dim=-2)
        values = torch.cat([layer.values, value_states], dim=-2)
        return keys, values


def enable_layer_checkpointing(causal_lm: Any) -> None:
    """Recompute each decoder layer's activations in backward (completion pass only).

    The layers read the prompt KV from a ``PromptPrefixCache``, which a replay cannot modify,
    so they may keep the cache under checkpointing.
    """
    causal_lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    for module in causal_lm.modules():
        if hasattr(module, "_can_checkpoint_with_cache"):
            module._can_checkpoint_with_cache = True


@dataclass(frozen=True)
class GroupTokens:
    """One prompt and its sampled completions.

    prompt_ids: (P,) int64. completion_ids: (G, C) int64, right-padded. mask: (G, C) float32,
    1 at real completion tokens.
    """

    prompt_ids: torch.Tensor
    completion_ids: torch.Tensor
    mask: torch.Tensor

    @property
    def num_tokens(self) -> int:
        """Tokens a training forward processes: the prompt once plus the padded completions."""
        return int(self.prompt_ids.numel() + self.completion_ids.numel())

    def rows(self, index: slice) -> GroupTokens:
        """The same prompt with a subset of its completions (micro-batching a large group)."""
        return GroupTokens(self.prompt_ids, self.completion_ids[index], self.mask[index])


def group_logprobs(
    causal_lm: Any,
    group: GroupTokens,
    *,
    temperature: float,
    chunk_tokens: int = 256,
    checkpoint_layers: bool = False,
    prompt: PromptStates | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs and entropies of the completion tokens under ``causal_lm``.

    Args:
        causal_lm: a transformers causal LM (LoRA layers injected or not) with
            ``get_decoder()`` and ``get_output_embeddings()``.
        group: the prompt (P,) and completions (G, C).
        temperature: sampling temperature; logits are divided by it.
        checkpoint_layers: recompute the completion pass's layer activations in backward
            (needs ``enable_layer_checkpointing``); trades ~1/3 more compute for memory.
        prompt: the prompt's states from a ``PromptBatch``; None runs the prompt here.

    Returns:
        logp (G, C) float32 (0 at padding; differentiable when grad is enabled) and entropy
        (G, C) float32 in nats, without gradient.
    """
    decoder = causal_lm.get_decoder()
    head = causal_lm.get_output_embeddings()
    n, c = group.completion_ids.shape
    active = group.mask.bool()
    # A row feeds its tokens up to its last scored one, minus that one (it predicts nothing).
    scored = torch.where(active, torch.arange(1, c + 1, device=active.device), 0).amax(dim=1)
    fed = (scored - 1).clamp(min=0).tolist()
    feeds = sum(fed) > 0
    if prompt is None:
        out = decoder(input_ids=group.prompt_ids[None], use_cache=feeds)
        table, cache = out.last_hidden_state[0, -1:], out.past_key_values  # table: (1, H)
    else:
        table = prompt.last_hidden
        cache = DynamicCache(list(zip(prompt.keys, prompt.values, strict=True))) if feeds else None
    # Row 0 of the table predicts every completion's first token; the packs' states follow.
    source = torch.zeros(n, c, dtype=torch.long, device=active.device)
    if feeds:
        prompt_len = len(group.prompt_ids)
        packs, mask_kind = _layout(causal_lm.config, group.completion_ids, fed, prompt_len)
        cache.batch_repeat_interleave(packs.input_ids.shape[0])
        cache.__class__ = PromptPrefixCache  # same state, read-only updates from here on
        # Checkpointing only runs in training mode; nothing here uses dropout. The policy
        # keeps the model in eval mode, so the mode is switched only for checkpointing:
        # ``train()`` walks every submodule (~2,500 in a small model), 0.26 s of a 10 s
        # training pass when it ran around every group.
        replay = checkpoint_layers and torch.is_grad_enabled()
        if replay:
            decoder.train()
        try:
            rest = decoder(
                input_ids=packs.input_ids,
                position_ids=packs.positions,
                attention_mask=packs.attention_mask(prompt_len, mask_kind, table.dtype),
                past_key_values=cache,
                **_packed_kwargs(causal_lm.config, packs, mask_kind, prompt_len),
            )
        finally:
            if replay:
                decoder.eval()
        table = torch.cat([table, rest.last_hidden_state.flatten(0, 1)])
        source = packs.source
    logp_flat, entropy_flat = completion_logprobs(
        table.index_select(0, source[active]),
        group.completion_ids[active],
        head,
        temperature=temperature,
        chunk_tokens=chunk_tokens,
    )
    logp = torch.zeros(n, c, dtype=torch.float32).masked_scatter(active, logp_flat)
    entropy = torch.zeros(n, c, dtype=torch.float32).masked_scatter(active, entropy_flat)
    return logp, entropy


@dataclass(frozen=True)
class _Packs:
    """A group's fed completion tokens laid out as ``K`` rows of ``W``, several completions
    back to back in a row when the model takes a custom attention mask (else one per row).

    input_ids, positions (in the whole sequence: prompt length + offset), segment (which
    completion a token belongs to, -1 at padding): ``(K, W)``. source ``(G, C)``: for each
    completion token, the row of ``[prompt's last state; the K * W states]`` that predicts it.
    """

    input_ids: torch.Tensor
    positions: torch.Tensor
    segment: torch.Tensor
    source: torch.Tensor

    def attention_mask(
        self, prompt_len: int, kind: str | None, dtype: torch.dtype
    ) -> torch.Tensor | None:
        """``(K, 1, W, P + W)``: every token sees the prompt and the earlier tokens of its own
        completion. None (the model's causal mask) when each row holds one completion."""
        if kind is None:
            return None
        seg = self.segment
        own = (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] >= 0)
        own &= self.positions[:, None, :] <= self.positions[:, :, None]
        allowed = torch.cat([own.new_ones(*own.shape[:2], prompt_len), own], dim=-1)[:, None]
        if kind == "bool":
            return allowed
        blocked = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
        return blocked.masked_fill(~allowed, torch.finfo(dtype).min)


def _layout(
    config: Any, completion_ids: torch.Tensor, fed: list[int], prompt_len: int
) -> tuple[_Packs, str | None]:
    """The packed layout and its mask kind when the model takes a custom mask and packing
    saves enough tokens; else one completion per row and the model's own causal mask."""
    kind = _custom_mask_kind(config)
    if kind is not None:
        packed = _pack(completion_ids, fed, prompt_len, capacity=PACK_TOKENS)
        padded_tokens = sum(1 for length in fed if length) * max(fed)
        if packed.input_ids.numel() <= PACKED_SHARE * padded_tokens:
            return packed, kind
    return _pack(completion_ids, fed, prompt_len, capacity=0), None


def _pack(completion_ids: torch.Tensor, fed: list[int], prompt_len: int, capacity: int) -> _Packs:
    """Completions in order, each row filled while it holds ≤ ``capacity`` tokens."""
    rows: list[list[int]] = []
    size = 0
    for index, length in enumerate(fed):
        if length == 0:
            continue
        if not rows or size + length > capacity:
            rows.append([])
            size = 0
        rows[-1].append(index)
        size += length
    width = max(sum(fed[i] for i in members) for members in rows)
    shape, device = (len(rows), width), completion_ids.device
    input_ids = torch.zeros(shape, dtype=torch.long, device=device)
    positions = torch.full(shape, prompt_len, dtype=torch.long, device=device)
    segment = torch.full(shape, -1, dtype=torch.long, device=device)
    source = torch.zeros(completion_ids.shape, dtype=torch.long, device=device)
    for k, members in enumerate(rows):
        offset = 0
        for index in members:
            length = fed[index]
            span = slice(offset, offset + length)
            steps = torch.arange(length, device=device)
            input_ids[k, span] = completion_ids[index, :length]
            positions[k, span] = prompt_len + steps
            segment[k, span] = index
            source[index, 1 : length + 1] = 1 + k * width + offset + steps
            offset += length
    return _Packs(input_ids, positions, segment, source)


def _packed_kwargs(
    config: Any, packs: _Packs, mask_kind: str | None, prompt_len: int
) -> dict[str, Any]:
    """Where the packed completions sit, for openrft's attention (``training.attention``): it
    then attends each completion to the prompt and itself only, not the whole row."""
    if mask_kind is None or config._attn_implementation != attention.NAME:
        return {}
    packed = attention.PackedCompletions.from_segments(packs.segment, prompt_len)
    return {attention.PACKED_KWARG: packed}


def _custom_mask_kind(config: Any) -> str | None:
    """The mask type this model's attention takes as a custom 4D mask ("bool" for SDPA,
    "additive" for eager), or None when its layers need masks of their own (sliding
    windows) or its attention takes no dense mask."""
    if not full_attention(config):
        return None
    kinds = {"sdpa": "bool", attention.NAME: "bool", "eager": "additive"}
    return kinds.get(config._attn_implementation)
