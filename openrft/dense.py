"""Large dense matmuls on oneDNN, on x86 CPUs.

torch runs a float32 ``F.linear`` or ``@`` on CPU through MKL's sgemm. On the 2-core AMD EPYC
(Zen 4) this project is built on, oneDNN's matmul, which torch ships and its own compiler uses
for CPU linear layers (``torch.ops.mkldnn._linear_pointwise``), is faster on the shapes training
and sampling run (measured 2026-12-03, two threads, GFLOP/s MKL → oneDNN):

- the LM head, 64 rows × 576 → 49,152: 70 → 150; for one row (chat decode) 12 → 5.7 ms;
- a training micro-batch's layers, 384 rows × 576 ↔ 1,536: 136–163 → 187–195, and their
  input gradients (``g W``, the weight read transposed) 148–170 → 186–201;
- 2048³: 131–161 → 192–210.

Below about 16 M multiply-adds oneDNN's fixed cost per call loses (64 × 576 → 192: 88 → 118 µs),
so small products (LoRA's rank-r factors, batch-1 decode's layers) stay on MKL.

The op has no autograd formula: ``linear`` takes it only where no gradient is recorded through
the call (inference mode, ``no_grad``, inside an autograd Function's forward or backward), and
falls back to ``F.linear`` everywhere else, as on GPUs and non-x86 CPUs.
"""

from __future__ import annotations

import platform

import torch
import torch.nn.functional as F

# Products smaller than this many multiply-adds stay on torch's default path (see module doc).
MIN_MULTIPLY_ADDS = 1 << 24
_DTYPES = frozenset({torch.float32, torch.bfloat16})


def _onednn_linear_available() -> bool:
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return False
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


ONEDNN = _onednn_linear_available()


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x Wᵀ + b`` as ``F.linear``: x ``(..., in)``, weight ``(out, in)`` (any strides)."""
    if _use_onednn(x, weight, bias):
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    return F.linear(x, weight, bias)


def _use_onednn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    if not ONEDNN or x.device.type != "cpu" or x.dim() < 2 or weight.dim() != 2:
        return False
    if x.dtype not in _DTYPES or weight.dtype != x.dtype:
        return False
    if bias is not None and bias.dtype != x.dtype:
        return False
    if x.numel() * weight.shape[0] < MIN_MULTIPLY_ADDS:
        return False
    tensors = (x, weight) if bias is None else (x, weight, bias)
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))
