"""A LoRA-adapted gated MLP's forward and backward as one autograd Function, for the training pass.

Llama-style MLPs compute ``down(silu(gate(x)) ⊙ up(x))``. With a LoRA adapter on each of the
three layers (``training.lora``'s fused layers), autograd records each layer, the SiLU and the
product separately. Here the block is one Function:

- ``gate`` and ``up`` read the same input: their adapters' first factors are one product
  ``x [A_gate; A_up]ᵀ`` forward, and one ``[∂low_gate, ∂low_up]ᵀ x`` for their gradients
  backward, so the ``(tokens, hidden)`` input is read once for both instead of twice each;
- the input gradient of both layers is summed into one buffer as it is computed, with their
  adapters' terms added by one product (``addmm_``) instead of autograd adding two buffers;
- the SiLU and the product are not saved: backward recomputes them from the saved ``gate`` and
  ``up`` outputs (two passes over a ``(tokens, intermediate)`` tensor, which backward reads
  anyway), and SiLU's gradient is torch's fused ``silu_backward``.

Values equal the module's own forward up to float rounding. Only plain float32 LoRA adapters on
bias-free, frozen base layers with a SiLU take this path (``FusedLoraLinear``'s fused cases);
anything else (a disabled adapter, a full fine-tune, other activations) runs the module's own
forward.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import SiLUActivation

from openrft import dense
from openrft.training.forwards import replace_forwards
from openrft.training.lora import adapter_tensors, shared_adapter

# MLP classes whose forward is Llama's: ``down_proj(act_fn(gate_proj(x)) * up_proj(x))``.
LLAMA_STYLE = frozenset({"LlamaMLP", "MistralMLP", "Qwen2MLP", "Qwen3MLP"})


class _LoraGatedMlp(torch.autograd.Function):
    """``down(silu(gate(x)) ⊙ up(x))`` where each layer is ``y = x Wᵀ + s (x Aᵀ) Bᵀ``."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        scalings: tuple[float, float, float],
        *layers: torch.Tensor,
    ) -> torch.Tensor:
        # layers: (W, A, B) of gate, up and down, each its own argument so that autograd
        # tracks the adapters' factors.
        gate_w, gate_a, gate_b, up_w, up_a, up_b, down_w, down_a, down_b = layers
        s_gate, s_up, s_down = scalings
        rows = x.reshape(-1, x.shape[-1])
        rank = gate_a.shape[0]
        low = rows @ torch.cat([gate_a, up_a]).T  # (tokens, r_gate + r_up)
        gated = dense.linear(rows, gate_w).addmm_(low[:, :rank], gate_b.T, alpha=s_gate)
        upped = dense.linear(rows, up_w).addmm_(low[:, rank:], up_b.T, alpha=s_up)
        hidden = F.silu(gated).mul_(upped)
        low_down = hidden @ down_a.T
        out = dense.linear(hidden, down_w).addmm_(low_down, down_b.T, alpha=s_down)
        ctx.save_for_backward(rows, gated, upped, low, low_down, *layers)
        ctx.scalings = scalings
        return out.view(*x.shape[:-1], down_w.shape[0])

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        rows, gated, upped, low, low_down, *layers = ctx.saved_tensors
        gate_w, gate_a, gate_b, up_w, up_a, up_b, down_w, down_a, down_b = layers
        s_gate, s_up, s_down = ctx.scalings
        rank = gate_a.shape[0]
        grad = grad_out.reshape(-1, down_w.shape[0])
        act = F.silu(gated)
        # down: y = h Wᵀ + s (h Aᵀ) Bᵀ
        grad_low_down = (grad @ down_b).mul_(s_down)
        grad_down_b = (low_down.T @ grad).mul_(s_down).T
        grad_down_a = grad_low_down.T @ (act * upped)
        grad_hidden = dense.linear(grad, down_w.T).addmm_(grad_low_down, down_a)
        # h = silu(gate) ⊙ up
        grad_up = grad_hidden * act
        grad_gate = torch.ops.aten.silu_backward(grad_hidden.mul_(upped), gated)
        # gate and up share their input
        grad_low = torch.cat([(grad_gate @ gate_b).mul_(s_gate), (grad_up @ up_b).mul_(s_up)], 1)
        grad_gate_b = (low[:, :rank].T @ grad_gate).mul_(s_gate).T
        grad_up_b = (low[:, rank:].T @ grad_up).mul_(s_up).T
        grad_a = grad_low.T @ rows
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = dense.linear(grad_gate, gate_w.T).add_(dense.linear(grad_up, up_w.T))
            grad_x.addmm_(grad_low, torch.cat([gate_a, up_a]))
            grad_x = grad_x.view(*grad_out.shape[:-1], rows.shape[-1])
        grads = (
            None, grad_a[:rank], grad_gate_b,
            None, grad_a[rank:], grad_up_b,
            None, grad_down_a, grad_down_b,
        )  # fmt: skip
        needs = ctx.needs_input_grad[2:]
        return (grad_x, None, *(g if n else None for g, n in zip(grads, needs, strict=True)))


def _fused_forward(self: Any, x: torch.Tensor) -> torch.Tensor:
    layers = (self.gate_proj, self.up_proj, self.down_proj)
    adapter = shared_adapter(layers, x)
    if adapter is None or not isinstance(self.act_fn, SiLUActivation):
        return type(self).forward(self, x)
    return _LoraGatedMlp.apply(x, *adapter_tensors(layers, adapter))


def fuse_gated_mlps(model: nn.Module) -> int:
    """Compute every Llama-style MLP of ``model`` with the fused Function when its layers carry
    one plain LoRA adapter (checked at each call; an instance forward: ``training.forwards``).
    Returns how many."""
    return replace_forwards(model, LLAMA_STYLE, _fused_forward)
