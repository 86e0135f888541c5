"""RMSNorm's forward and backward as one autograd Function, for the training pass.

transformers' Llama-style RMSNorm is eight tensor ops (``pow``, ``mean``, ``add``, ``rsqrt``,
two ``mul``, two casts), each recorded by autograd, whose backward replays as many more. A
training pass runs two norms per decoder layer per micro-batch; here a norm is three passes over
its input forward and four backward, with one saved ``(tokens, 1)`` statistic:

    y = w ⊙ x ⊙ r,   r = (mean(x²) + ε)^-½
    ∂L/∂x = r ⊙ (g ⊙ w) − x ⊙ (r³ / H) Σ (g ⊙ w ⊙ x)

Forward and backward of one norm at a micro-batch's shape (376 tokens × 576), 2-core Intel
Xeon: 490 → 300 µs. torch's own ``F.rms_norm`` (which the rollout engine calls, without autograd)
is no help here: on CPU it decomposes into the same ``pow``/``mean``/``mul`` ops (464-504 µs).
Values are the same up to float rounding (the backward sums in another order). Only float32
inputs and weights take this path; other dtypes (the module's casts to and from float32 matter
there) run the module's own forward.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from openrft.training.forwards import replace_forwards

# Norm classes whose forward is Llama's: ``weight * (x.float() * rsqrt(mean(x²) + eps)).to(dtype)``
# (Gemma's, for one, scales by ``1 + weight`` and is not among them).
LLAMA_STYLE = frozenset({"LlamaRMSNorm", "MistralRMSNorm", "Qwen2RMSNorm", "Qwen3RMSNorm"})


class _RMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        rstd = rows.pow(2).mean(-1, keepdim=True).add_(eps).rsqrt_()
        ctx.save_for_backward(rows, weight, rstd)
        return torch.mul(rows, rstd).mul_(weight).view(x.shape)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        rows, weight, rstd = ctx.saved_tensors
        grad = grad_out.reshape(rows.shape)
        grad_x = grad_weight = None
        if ctx.needs_input_grad[1]:
            grad_weight = (grad * rows).mul_(rstd).sum(0)
        if ctx.needs_input_grad[0]:
            scaled = grad * weight
            coefficient = torch.linalg.vecdot(scaled, rows).unsqueeze(-1)
            coefficient.mul_(rstd.pow(3)).div_(rows.shape[-1])
            grad_x = scaled.mul_(rstd).addcmul_(rows, coefficient, value=-1).view(grad_out.shape)
        return grad_x, grad_weight, None


def _fused_forward(self: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    weight = self.weight
    if hidden_states.dtype != torch.float32 or weight.dtype != torch.float32:
        return type(self).forward(self, hidden_states)
    return _RMSNorm.apply(hidden_states, weight, self.variance_epsilon)


def fuse_rms_norms(model: nn.Module) -> int:
    """Compute every Llama-style RMSNorm of ``model`` with the fused Function (an instance
    forward: ``training.forwards``). Returns how many."""
    return replace_forwards(model, LLAMA_STYLE, _fused_forward)
