"""Per-token log-probs of a group's completions, with the prompt computed once per group.

The prompt is the same for all ``G`` samples of a group: one forward over it builds the KV
cache, which is repeated for the ``G`` completions (gradients flow back through the shared
prompt states). Logits are taken only at completion positions, in chunks (``rl.logprobs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from openrft.rl import completion_logprobs


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
    causal_lm: Any, group: GroupTokens, *, temperature: float, chunk_tokens: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs and entropies of the completion tokens under ``causal_lm``.

    Args:
        causal_lm: a transformers causal LM (LoRA layers injected or not) with
            ``get_decoder()`` and ``get_output_embeddings()``.
        group: the prompt (P,) and completions (G, C).
        temperature: sampling temperature; logits are divided by it.

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
        # The last completion token predicts nothing we score, so it is never fed.
        rest = decoder(input_ids=group.completion_ids[:, :-1], past_key_values=cache)
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
