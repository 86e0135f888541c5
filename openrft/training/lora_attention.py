"""A LoRA-adapted attention block's q/k/v projections and rotary embedding as one autograd Function.

Llama's attention projects its input three times (``q_proj``, ``k_proj``, ``v_proj``), then
rotates queries and keys (``apply_rotary_pos_emb``: ``q cos + rotate_half(q) sin``, five ops per
tensor, each recorded by autograd with a copy of its halves). With a LoRA adapter on each
projection (``training.lora``'s fused layers) here they are one Function:

- the three adapters' first factors are one product ``x [A_q; A_k; A_v]ᵀ`` forward, and one
  ``[∂low_q, ∂low_k, ∂low_v]ᵀ x`` for their gradients backward: the ``(tokens, hidden)`` input
  is read once for the three instead of twice each;
- the input gradient of the three is summed into one buffer, with their adapters' terms added by
  one product (``addmm_``), instead of autograd adding three buffers;
- the rotation is one product and a multiply-add on each half in place, and its backward the
  same with the halves' roles swapped; nothing of it is saved but the ``cos``/``sin`` tables.

The rest of the block (the attention itself, ``o_proj``) is transformers' own code path: the
forward below is ``LlamaAttention.forward`` with the projections and rotation replaced. Values
equal transformers' up to float rounding. Only ``LlamaAttention`` on openrft's attention
(``training.attention``) with plain float32 LoRA adapters on bias-free, frozen projections takes
this path; anything else runs the module's own forward.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from openrft import dense
from openrft.rotary import rotate, rotate_transposed
from openrft.training import attention
from openrft.training.forwards import replace_forwards
from openrft.training.lora import adapter_tensors, shared_adapter

# Attention classes whose forward is Llama's (Mistral's and Qwen2's pass a sliding window too).
LLAMA_STYLE = frozenset({"LlamaAttention"})


class _LoraQkvRotary(torch.autograd.Function):
    """``q, k, v = x W_qᵀ + s (x A_qᵀ) B_qᵀ, ...`` with q and k rotated; x ``(..., hidden)``,
    cos and sin ``(..., D)``; returns q, k, v ``(..., heads × D)``."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        scalings: tuple[float, float, float],
        *layers: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # layers: (W, A, B) of q, k and v, each its own argument so that autograd tracks the
        # adapters' factors.
        q_w, q_a, q_b, k_w, k_a, k_b, v_w, v_a, v_b = layers
        rows = x.reshape(-1, x.shape[-1])
        ranks = [q_a.shape[0], k_a.shape[0], v_a.shape[0]]
        low = torch.split(rows @ torch.cat([q_a, k_a, v_a]).T, ranks, dim=1)
        q, k, v = (
            dense.linear(rows, w).addmm_(part, b.T, alpha=s)
            for w, b, part, s in zip((q_w, k_w, v_w), (q_b, k_b, v_b), low, scalings, strict=True)
        )
        head_dim = cos.shape[-1]
        # cos, sin: (1 or batch, sequence, D), one row per token here.
        cos_, sin_ = (t.expand(*x.shape[:-1], -1).reshape(-1, 1, head_dim) for t in (cos, sin))
        q = rotate(q.view(len(rows), -1, head_dim), cos_, sin_)
        k = rotate(k.view(len(rows), -1, head_dim), cos_, sin_)
        ctx.save_for_backward(rows, cos_, sin_, *low, *layers)
        ctx.scalings, ctx.x_shape = scalings, x.shape
        return tuple(t.view(*x.shape[:-1], -1) for t in (q, k, v))  # type: ignore[return-value]

    @staticmethod
    def backward(
        ctx: Any, grad_q: torch.Tensor, grad_k: torch.Tensor, grad_v: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        rows, cos, sin, low_q, low_k, low_v, *layers = ctx.saved_tensors
        q_w, q_a, q_b, k_w, k_a, k_b, v_w, v_a, v_b = layers
        tokens, head_dim = len(rows), cos.shape[-1]
        grad_q = rotate_transposed(grad_q.reshape(tokens, -1, head_dim), cos, sin).view(tokens, -1)
        grad_k = rotate_transposed(grad_k.reshape(tokens, -1, head_dim), cos, sin).view(tokens, -1)
        grad_v = grad_v.reshape(tokens, -1)
        grads = (grad_q, grad_k, grad_v)
        grad_low = torch.cat(
            [(g @ b).mul_(s) for g, b, s in zip(grads, (q_b, k_b, v_b), ctx.scalings, strict=True)],
            dim=1,
        )
        grad_a = grad_low.T @ rows
        grad_bs = [
            (low.T @ g).mul_(s).T
            for low, g, s in zip((low_q, low_k, low_v), grads, ctx.scalings, strict=True)
        ]
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = dense.linear(grad_q, q_w.T)
            grad_x.add_(dense.linear(grad_k, k_w.T)).add_(dense.linear(grad_v, v_w.T))
            grad_x.addmm_(grad_low, torch.cat([q_a, k_a, v_a]))
            grad_x = grad_x.view(ctx.x_shape)
        grad_as = torch.split(grad_a, [q_a.shape[0], k_a.shape[0], v_a.shape[0]])
        grads_by_input = (
            None, grad_as[0], grad_bs[0],
            None, grad_as[1], grad_bs[1],
            None, grad_as[2], grad_bs[2],
        )  # fmt: skip
        needs = ctx.needs_input_grad[4:]
        return (
            grad_x,
            None,
            None,
            None,
            *(g if n else None for g, n in zip(grads_by_input, needs, strict=True)),
        )


def _fused_forward(
    self: Any,
    hidden_states: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
    attention_mask: torch.Tensor | None = None,
    past_key_values: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, Any]:
    layers = (self.q_proj, self.k_proj, self.v_proj)
    adapter = shared_adapter(layers, hidden_states)
    if (
        adapter is None
        or self.config._attn_implementation != attention.NAME
        or position_embeddings is None
        or position_embeddings[0].dtype != hidden_states.dtype
    ):
        return type(self).forward(
            self, hidden_states, position_embeddings, attention_mask, past_key_values, **kwargs
        )
    cos, sin = position_embeddings
    input_shape = hidden_states.shape[:-1]
    hidden_shape = (*input_shape, -1, self.head_dim)
    projected = _LoraQkvRotary.apply(hidden_states, cos, sin, *adapter_tensors(layers, adapter))
    query, key, value = (t.view(hidden_shape).transpose(1, 2) for t in projected)
    if past_key_values is not None:
        key, value = past_key_values.update(key, value, self.layer_idx)
    out, weights = attention.grouped_attention(
        self,
        query,
        key,
        value,
        attention_mask,
        dropout=0.0 if not self.training else self.attention_dropout,
        scaling=self.scaling,
        **kwargs,
    )
    return self.o_proj(out.reshape(*input_shape, -1).contiguous()), weights


def fuse_lora_attention(model: nn.Module) -> int:
    """Compute every Llama attention block's projections and rotation of ``model`` with the fused
    Function when they carry one plain LoRA adapter (checked at each call; an instance forward:
    ``training.forwards``). Returns how many."""
    return replace_forwards(model, LLAMA_STYLE, _fused_forward)
