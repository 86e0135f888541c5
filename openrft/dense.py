"""Large dense matmuls on whichever of torch's two CPU libraries is faster for their shape.

torch runs a float32 ``F.linear`` or ``@`` on CPU through MKL's sgemm. torch also ships oneDNN,
whose matmul its own compiler uses for CPU linear layers (``torch.ops.mkldnn._linear_pointwise``).
Which is faster depends on the CPU and the shape (measured with two threads, GFLOP/s, MKL →
oneDNN):

- 2-core AMD EPYC, Zen 4 (2026-12-03): oneDNN wins every large shape of a step: the LM head,
  64 rows × 576 → 49,152, 70 → 150; a training micro-batch's layers, 384 × 576 ↔ 1,536,
  136–163 → 187–195, and their input gradients 148–170 → 186–201; 2048³ 131–161 → 192–210.
- 2-core Intel Xeon with AMX (2026-12-04): the LM head still gains (175 → 232), the micro-batch
  layers tie (341–349 vs 333–340), and MKL wins decoding's 64 × 1,536 → 576 (243 → 187) and
  2048³ (383 → 325).

So ``linear`` measures: the first call of a shape (rows bucketed by power of two, the weight's
layout, dtype, bias, thread count) times both libraries a few times on its own arguments and
keeps the faster for every later call of that shape in the process. A float result can differ
in its last bits between the two (summation order), as it can between thread counts.

Below 16 M multiply-adds oneDNN's fixed cost per call lost on both CPUs (64 × 576 → 192: 88 →
118 µs on the AMD), so small products (LoRA's rank-r factors, batch-1 decode's layers) stay on
MKL unmeasured.

The oneDNN op has no autograd formula: ``linear`` considers it only where no gradient is
recorded through the call (inference mode, ``no_grad``, inside an autograd Function's forward
or backward), and uses ``F.linear`` everywhere else, as on GPUs and non-x86 CPUs.
"""

from __future__ import annotations

import functools
import math
import platform
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

# Products smaller than this many multiply-adds stay on torch's default path (see module doc).
MIN_MULTIPLY_ADDS = 1 << 24
# Timed calls of each library when a shape is first seen (after one untimed call of each).
TRIAL_CALLS = 3
_DTYPES = frozenset({torch.float32, torch.bfloat16})
# Shape key -> whether oneDNN was the faster library for it.
_onednn_faster: dict[tuple[object, ...], bool] = {}


def _onednn_linear_available() -> bool:
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return False
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


ONEDNN = _onednn_linear_available()


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x Wᵀ + b`` as ``F.linear``: x ``(..., in)``, weight ``(out, in)`` (any strides)."""
    if not _may_use_onednn(x, weight, bias):
        return F.linear(x, weight, bias)
    key = _shape_key(x, weight, bias)
    faster = _onednn_faster.get(key)
    if faster is None:
        faster = _onednn_faster[key] = _onednn_wins(x, weight, bias)
    return onednn_linear(x, weight, bias) if faster else F.linear(x, weight, bias)


def onednn_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``x Wᵀ + b`` on oneDNN, whatever the shape (needs ``ONEDNN``; no autograd)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _may_use_onednn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
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


def _shape_key(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[object, ...]:
    rows = x.numel() // x.shape[-1]
    return (
        rows.bit_length(),
        x.shape[-1],
        x.stride(-1) == 1,
        weight.shape[0],
        weight.stride(),
        x.dtype,
        bias is not None,
        torch.get_num_threads(),
    )


def _onednn_wins(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    """Whether oneDNN's best of ``TRIAL_CALLS`` timed calls beats MKL's, calls alternating."""
    calls: list[Callable[[], torch.Tensor]] = [
        functools.partial(onednn_linear, x, weight, bias),
        functools.partial(F.linear, x, weight, bias),
    ]
    for call in calls:  # oneDNN builds its kernel on a shape's first call
        call()
    best = [math.inf, math.inf]
    for _ in range(TRIAL_CALLS):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[index] = min(best[index], time.perf_counter() - start)
    return best[0] < best[1]
