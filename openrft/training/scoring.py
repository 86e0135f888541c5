"""Per-token log-probs of a group's completions, with the prompt computed once per group.

The prompt is the same for all ``G`` samples of a group: one forward over it builds the KV
cache, which is repeated for the ``G`` completions (gradients flow back through the shared
prompt states). Logits are taken only at completion positions, in chunks (``rl.logprobs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from openrft.rl import completion_logprobs


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
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs and entropies of the completion tokens under ``causal_lm``.

    Args:
        causal_lm: a transformers causal LM (LoRA layers injected or not) with
            ``get_decoder()`` and ``get_output_embeddings()``.
        group: the prompt (P,) and completions (G, C).
        temperature: sampling temperature; logits are divided by it.
        checkpoint_layers: recompute the completion pass's layer activations in backward
            (needs ``enable_layer_checkpointing``); trades ~1/3 more compute for memory.

    Returns:
        logp (G, C) float32 (0 at padding; differentiable when grad is enabled) and entropy
        (G, C) float32 in nats, without gradient.
    """
    decoder = causal_lm.get_decoder()
    head = causal_lm.get_output_embeddings()
    n, c = group.completion_ids.shape
    prompt = decoder(input_ids=group.prompt_ids[None], use_cache=c > 1)
    last = prompt.last_hidden_state[:, -1:]  # (1, 1, H): predicts the first completion token
    hidden = last.expand(n, 1, last.shape[-1])
    if c > 1:
        cache = prompt.past_key_values
        cache.batch_repeat_interleave(n)
        cache.__class__ = PromptPrefixCache  # same state, read-only updates from here on
        # Checkpointing only runs in training mode; nothing here uses dropout.
        decoder.train(checkpoint_layers and torch.is_grad_enabled())
        try:
            # The last completion token predicts nothing we score, so it is never fed.
            rest = decoder(input_ids=group.completion_ids[:, :-1], past_key_values=cache)
        finally:
            decoder.eval()
        hidden = torch.cat([hidden, rest.last_hidden_state], dim=1)  # (G, C, H)
    active = group.mask.bool()
    logp_flat, entropy_flat = completion_logprobs(
        hidden[active],
        group.completion_ids[active],
        head,
        temperature=temperature,
        chunk_tokens=chunk_tokens,
    )
    logp = torch.zeros(n, c, dtype=torch.float32).masked_scatter(active, logp_flat)
    entropy = torch.zeros(n, c, dtype=torch.float32).masked_scatter(active, entropy_flat)
    return logp, entropy
