"""A step's prompts in one batched forward; each group's completion pass reads its prompt's states.

One group's prompt alone is a forward of a few dozen tokens, whose matmuls are too thin to run
near the machine's peak, and so is its backward: the learning workload's 8 prompts of ~40 tokens
took 3.1-3.7 s forward and backward one by one, 1.5 s in one batch (issue 19, 2-core CPU). So
the learner runs all prompts of a step in one right-padded forward; causal attention means a
prompt never sees the padding after it. A group's completion pass reads its prompt's keys,
values and last hidden state as leaf tensors. Their gradients accumulate over the group's
micro-batches, and ``backward`` carries them through the batched forward once.

Only models whose layers all attend to the whole sequence take this path: a sliding-window
layer's cache keeps a layout of its own. Others run each prompt with its completions
(``scoring.group_logprobs`` without ``prompt``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class PromptStates:
    """One prompt's per-layer keys and values ``(1, kv_heads, P, head_dim)`` and its last
    hidden state ``(1, H)``, which predicts every completion's first token."""

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    last_hidden: torch.Tensor

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (*self.keys, *self.values, self.last_hidden)


def full_attention(config: Any) -> bool:
    """Whether every layer of this model attends to the whole sequence (no sliding window)."""
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return all(t == "full_attention" for t in layer_types)
    windowed = getattr(config, "sliding_window", None)
    return not (windowed and getattr(config, "use_sliding_window", True))


class PromptBatch:
    """The prompts of a step's groups, computed together (with gradient when it is enabled)."""

    def __init__(self, causal_lm: Any, prompts: dict[int, torch.Tensor]):
        """``prompts``: group index -> prompt ids (P,)."""
        self._rows = {group: row for row, group in enumerate(prompts)}
        self._lengths = {group: len(ids) for group, ids in prompts.items()}
        width = max(self._lengths.values())
        ids = torch.zeros(len(prompts), width, dtype=torch.long)
        for row, prompt in enumerate(prompts.values()):
            ids[row, : len(prompt)] = prompt
        out = causal_lm.get_decoder()(input_ids=ids, use_cache=True)
        self._layers = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        self._hidden = out.last_hidden_state
        self._trains = torch.is_grad_enabled()
        self._leaves: dict[int, tuple[PromptStates, PromptStates]] = {}

    def states(self, group: int) -> PromptStates:
        """Group ``group``'s prompt states; with gradient, leaves that ``backward`` carries on
        (the same leaves for every micro-batch of the group)."""
        if group not in self._leaves:
            source = self._slice(group)
            if not self._trains:
                return source
            leaves = _leaves(source)
            self._leaves[group] = (source, leaves)
        return self._leaves[group][1]

    def backward(self) -> None:
        """Carry the gradients the completion passes left on the leaves through the batch."""
        sources, grads = [], []
        for source, leaves in self._leaves.values():
            for tensor, leaf in zip(source.tensors(), leaves.tensors(), strict=True):
                if leaf.grad is not None:
                    sources.append(tensor)
                    grads.append(leaf.grad)
        self._leaves.clear()
        if sources:
            torch.autograd.backward(sources, grads)

    def _slice(self, group: int) -> PromptStates:
        row, length = self._rows[group], self._lengths[group]
        keys = tuple(k[row : row + 1, :, :length] for k, _ in self._layers)
        values = tuple(v[row : row + 1, :, :length] for _, v in self._layers)
        return PromptStates(keys, values, self._hidden[row : row + 1, length - 1])


def _leaves(states: PromptStates) -> PromptStates:
    def leaf(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.detach().requires_grad_(True)

    keys, values = tuple(map(leaf, states.keys)), tuple(map(leaf, states.values))
    return PromptStates(keys, values, leaf(states.last_hidden))


def prompt_batch(causal_lm: Any, prompts: Sequence[tuple[int, torch.Tensor]]) -> PromptBatch | None:
    """A ``PromptBatch`` of the distinct groups in ``prompts`` when the model allows one."""
    if not prompts or not full_attention(causal_lm.config):
        return None
    return PromptBatch(causal_lm, dict(prompts))
