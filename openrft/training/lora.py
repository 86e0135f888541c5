"""peft's LoRA ``Linear`` with the adapter fused into the base layer's matmuls.

peft computes ``base(x) + lora_B(lora_A(x)) * scaling``: besides the base matmul, one pass that
scales a (tokens, out) tensor and one that adds it, and in backward the same again plus a
separate (tokens, in) gradient summed onto the base layer's. On CPU those elementwise passes
over fresh memory cost as much as a quarter of the training pass (issue 19's profile). Here the
adapter's product is accumulated into the base output by the matmul itself
(``y.addmm_(x Aᵀ, Bᵀ, alpha=scaling)``), and the input gradient the same way
(``gx = g W; gx.addmm_(g B s, A)``): the same arithmetic, no extra pass.

The class keeps peft's modules and parameter names (``lora_A``/``lora_B``), so saving, loading,
merging and ``disable_adapter`` are peft's own; any case the fused path does not cover (dropout,
several or mixed adapters, variants such as DoRA, mixed dtypes) runs peft's forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from peft.tuners.lora import Linear as PeftLoraLinear
from torch import nn

from openrft import dense


class FusedLoraLinear(PeftLoraLinear):
    """A peft ``lora.Linear`` whose forward and backward fuse the adapter (see module doc)."""

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        adapter = self._fusable_adapter(x, args, kwargs)
        if adapter is None:
            return super().forward(x, *args, **kwargs)
        base = self.get_base_layer()
        return _LoraLinear.apply(
            x,
            base.weight,
            base.bias,
            self.lora_A[adapter].weight,
            self.lora_B[adapter].weight,
            float(self.scaling[adapter]),
        )

    def _fusable_adapter(
        self, x: torch.Tensor, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> str | None:
        """The one plain LoRA adapter the fused path computes, or None for peft's path."""
        if args or kwargs or self.disable_adapters or self.merged:
            return None
        active = [a for a in self.active_adapters if a in self.lora_A]
        if len(active) != 1:
            return None
        adapter = active[0]
        if adapter in self.lora_variant or not isinstance(self.lora_dropout[adapter], nn.Identity):
            return None
        base = self.get_base_layer()
        weights = (base.weight, self.lora_A[adapter].weight, self.lora_B[adapter].weight)
        if type(base) is not nn.Linear or any(w.dtype != x.dtype for w in weights):
            return None
        return adapter


def shared_adapter(layers: Sequence[nn.Module], x: torch.Tensor) -> str | None:
    """The adapter a fused Function may compute ``layers`` with on float32 input ``x``: each a
    ``FusedLoraLinear`` whose fused case applies with the same one plain adapter, on a
    bias-free, frozen base layer. None otherwise (the layers' own forwards then apply)."""
    if x.dtype != torch.float32:
        return None
    adapters: set[str | None] = set()
    for layer in layers:
        if not isinstance(layer, FusedLoraLinear):
            return None
        base = layer.get_base_layer()
        if base.bias is not None or base.weight.requires_grad:
            return None
        adapters.add(layer._fusable_adapter(x, (), {}))
    return adapters.pop() if len(adapters) == 1 else None


def adapter_tensors(layers: Sequence[Any], adapter: str) -> tuple[Any, ...]:
    """``(scalings, W₁, A₁, B₁, W₂, A₂, B₂, ...)``: each layer's scaling, then its base weight
    and adapter factors, as a fused Function takes them (each tensor its own argument, so that
    autograd tracks the factors)."""
    scalings = tuple(float(layer.scaling[adapter]) for layer in layers)
    tensors = [
        t
        for layer in layers
        for t in (
            layer.get_base_layer().weight,
            layer.lora_A[adapter].weight,
            layer.lora_B[adapter].weight,
        )
    ]
    return (scalings, *tensors)


class _LoraLinear(torch.autograd.Function):
    """``y = x Wᵀ + b + s (x Aᵀ) Bᵀ`` for x (..., in), W (out, in), A (r, in), B (out, r)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        lora_a: torch.Tensor,
        lora_b: torch.Tensor,
        scaling: float,
    ) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        out = dense.linear(rows, weight, bias)
        low = rows @ lora_a.T  # (tokens, r)
        out.addmm_(low, lora_b.T, alpha=scaling)
        ctx.save_for_backward(rows, weight, lora_a, lora_b, low)
        ctx.scaling = scaling
        ctx.has_bias = bias is not None
        return out.view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        rows, weight, lora_a, lora_b, low = ctx.saved_tensors
        needs_x, needs_w, needs_b, needs_a, needs_lb, _ = ctx.needs_input_grad
        grad = grad_out.reshape(-1, weight.shape[0])
        grad_low = (grad @ lora_b).mul_(ctx.scaling)  # (tokens, r): d loss / d (x Aᵀ)
        grad_x = grad_w = grad_bias = grad_a = grad_lb = None
        if needs_x:
            grad_x = dense.linear(grad, weight.T).addmm_(grad_low, lora_a)
            grad_x = grad_x.view(*grad_out.shape[:-1], weight.shape[1])
        if needs_w:
            grad_w = grad.T @ rows
        if needs_b and ctx.has_bias:
            grad_bias = grad.sum(0)
        if needs_a:
            grad_a = grad_low.T @ rows
        if needs_lb:
            # (lowᵀ g)ᵀ, not gᵀ low: MKL takes a (tokens, out)ᵀ operand 1.5-2x slower (376
            # tokens, 576 -> 1,536: 154 vs 71 µs).
            grad_lb = (low.T @ grad).mul_(ctx.scaling).T
        return grad_x, grad_w, grad_bias, grad_a, grad_lb, None
