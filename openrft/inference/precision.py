"""Sampling a float32 model with bfloat16 matmuls: when to, and the weights' bfloat16 copies.

On a CPU that multiplies bfloat16 natively (AVX512-BF16, AMX) oneDNN's bfloat16 products run
about twice (Zen 4) to four times (AMX) as fast as float32 ones on a decode step's shapes, and
read half the bytes. Rollouts may use them while the trainer stays in float32: each sampled
token's log-prob comes from the bfloat16 logits, so the learner's truncated importance sampling
corrects the gap between sampler and trainer (and reports it, ``sampling/logp_gap_mean``), as
it does for vLLM rollouts and as verl and TRL do for theirs.

``CastWeights`` keeps a bfloat16 copy of each weight the engine multiplies, made on first use
and remade whenever the weight changes in place (an optimizer step of a full fine-tune, a
loaded checkpoint: torch bumps the tensor's version counter) or is replaced. A job's sampler
drops the copies after each call (``GenerationEngine.release``), so the update's activations
can use their memory, for one cast of the weights per call (about 0.1 s for 135M parameters on
two cores).

Only each base product's input, weight and output are rounded; activations, norms,
attention, the KV cache and the LoRA factors stay in the model's dtype.

Not the default (``rollout_dtype`` is ``"float32"`` unless a job asks): on the learning
benchmark (issue 19, a 2-core AMD EPYC) bfloat16 rollouts cut generation by about a quarter,
but ten steps' peak RSS came out above TRL's (3,539-3,615 MiB against 3,448), measured before
openrft bounded oneDNN's primitive cache (``openrft/__init__.py``). Since the bound it was
measured only on a 2-core Intel Xeon with AMX: 2,954 MiB (TRL 3,476), generation 26% shorter.
"""

from __future__ import annotations

import torch

from openrft import dense
from openrft.domain.hyperparameters.schema import ROLLOUT_DTYPES


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware (CPU: AVX512-BF16 or AMX; CUDA:
    compute capability 8.0 or later)."""
    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    return False


def rollout_matmul_dtype(
    choice: str, model_dtype: torch.dtype, device: torch.device
) -> torch.dtype | None:
    """The dtype rollouts multiply in when it differs from the model's, else None.

    ``choice`` is the ``rollout_dtype`` hyperparameter: ``"float32"`` samples in the model's
    own dtype, ``"bfloat16"`` always in bfloat16, ``"auto"`` in bfloat16 where ``device``
    multiplies it natively. A bfloat16 model samples in bfloat16 whatever the choice.
    """
    if choice not in ROLLOUT_DTYPES:
        raise ValueError(f"rollout_dtype must be one of {ROLLOUT_DTYPES}, not {choice!r}")
    if model_dtype == torch.bfloat16 or choice == "float32":
        return None
    if choice == "bfloat16" or native_bfloat16(device):
        return torch.bfloat16
    return None


class CastWeights:
    """``linear`` through copies of the weights in ``dtype``, kept in step with the originals."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype
        # id(original) -> (original, its version and storage when copied, the copy)
        self._copies: dict[int, tuple[torch.Tensor, tuple[int, int], torch.Tensor]] = {}

    def linear(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        """``x Wᵀ + b`` with ``x``, W and b rounded to ``dtype``; the result in ``x``'s dtype."""
        low_bias = None if bias is None else self.copy(bias)
        out = dense.linear(x.to(self.dtype), self.copy(weight), low_bias)
        return out.to(x.dtype)

    def clear(self) -> None:
        """Drop every copy (they are remade on next use)."""
        self._copies.clear()

    def copy(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` in ``dtype``: the cached copy, remade if ``tensor`` changed since."""
        stamp = (tensor._version, tensor.data_ptr())
        entry = self._copies.get(id(tensor))
        if entry is not None and entry[0] is tensor and entry[1] == stamp:
            return entry[2]
        with torch.no_grad():
            low = tensor.detach().to(self.dtype, copy=True)
        self._copies[id(tensor)] = (tensor, stamp, low)
        return low
