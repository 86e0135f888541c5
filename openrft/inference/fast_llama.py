"""A lean forward pass for Llama-family decoders, reading the weights of a transformers model.

``transformers`` spends most of a batch-64 decode step outside the matmuls (its cache objects,
mask building, repeated KV heads); this module runs the same math with one op per step of the
formula, on the same ``nn.Module`` weights (no copy), so training updates are seen at once and
peft LoRA layers apply their adapters unmerged, per row when rows use different adapters. With
a ``matmul_dtype`` (bfloat16 rollouts of a float32 model) the base products read bfloat16
copies of those weights instead, kept in step with them (``openrft.inference.precision``).
Prompts are prefilled packed (no padding), and their KV is stored once per prompt and shared by
its samples (``openrft.inference.shared_kv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from peft.tuners.lora import Linear as LoraLinear
from peft.tuners.lora import LoraLayer
from torch import nn

from openrft import dense
from openrft.inference.precision import CastWeights
from openrft.inference.shared_kv import PackedPrompts, SharedKV, attend, shared_kv_for_prompts
from openrft.rotary import rotate

SUPPORTED_MODEL_TYPES = frozenset({"llama", "qwen2"})
# Prompts are prefilled in packs of at most this many tokens: the projections and MLPs run on a
# pack's tokens at once (no padding), attention runs causally per prompt.
PREFILL_PACK_TOKENS = 2048

# Rows that use one adapter: (adapter name or None for "no adapter", row indices (k,) or None
# for every row). ``None`` instead of a list means "the model's active adapters on all rows".
AdapterGroups = list[tuple[str | None, torch.Tensor | None]] | None


def supports(model: Any) -> bool:
    """Whether ``model`` (a transformers causal LM, possibly peft-wrapped) runs on this path."""
    causal_lm = _causal_lm(model)
    config = getattr(causal_lm, "config", None)
    if config is None or getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    if getattr(config, "use_sliding_window", False):
        return False
    return not any(_uses_unsupported_lora(m) for m in causal_lm.modules())


class FastLlama:
    """Prefill and single-token decode over a Llama-family model's own modules."""

    def __init__(self, model: Any, matmul_dtype: torch.dtype | None = None) -> None:
        """``matmul_dtype``: multiply the base weights in this dtype (``openrft.inference.
        precision``), or None for the model's own."""
        lm = _causal_lm(model)
        self.cast = CastWeights(matmul_dtype) if matmul_dtype is not None else None
        self.embed = lm.model.embed_tokens
        self.layers = list(lm.model.layers)
        self.norm = lm.model.norm
        self.lm_head = lm.lm_head
        self.rotary = lm.model.rotary_emb
        attn = self.layers[0].self_attn
        self.head_dim = int(attn.head_dim)
        self.num_heads = int(lm.config.num_attention_heads)
        self.num_kv_heads = int(lm.config.num_key_value_heads)
        self.scaling = float(attn.scaling)

    def prefill(
        self, prompts: Sequence[Sequence[int]], adapters: Sequence[str | None] | None
    ) -> tuple[SharedKV, torch.Tensor]:
        """KV of every prompt and the logits ``(P, V)`` after its last token.

        ``adapters``: one adapter name per prompt (None = no adapter), or None for the model's
        active adapters everywhere.
        """
        device = self.embed.weight.device
        kv = shared_kv_for_prompts(
            [len(p) for p in prompts], len(self.layers), self.num_kv_heads, self.head_dim,
            dtype=self.embed.weight.dtype, device=device,
        )  # fmt: skip
        last_hidden = []
        for pack in PackedPrompts.split(prompts, PREFILL_PACK_TOKENS, device):
            groups = _token_groups(pack, adapters)
            hidden = self.embed(pack.token_ids)  # (T, hidden)
            cos, sin = self._rope(hidden, pack.positions)
            for index, layer in enumerate(self.layers):
                hidden = self._prefill_layer(layer, index, hidden, cos, sin, pack, kv, groups)
            last_hidden.append(hidden.index_select(0, pack.last_index))
        hidden = _rms_norm(self.norm, torch.cat(last_hidden))
        prompt_groups = row_groups(adapters, device)
        return kv, self._linear(self.lm_head, hidden, prompt_groups).float()

    def decode(
        self, kv: SharedKV, tokens: torch.Tensor, positions: torch.Tensor, groups: AdapterGroups
    ) -> torch.Tensor:
        """Feed one token per row (``tokens``, ``positions`` ``(B,)``); logits ``(B, V)``."""
        hidden = self.embed(tokens)  # (B, hidden)
        cos, sin = self._rope(hidden, positions)
        kv.begin_step()
        for index, layer in enumerate(self.layers):
            residual = hidden
            attn = layer.self_attn
            x = _rms_norm(layer.input_layernorm, hidden)
            q, k, v = self._qkv(attn, x, cos, sin, groups)  # (B, heads, D)
            kv.append(index, k, v)
            out = attend(kv, index, q, self.scaling)  # (B, H * D)
            hidden = residual + self._linear(attn.o_proj, out, groups)
            hidden = hidden + self._mlp(
                layer, _rms_norm(layer.post_attention_layernorm, hidden), groups
            )
        return self._linear(self.lm_head, _rms_norm(self.norm, hidden), groups).float()

    def _prefill_layer(
        self,
        layer: Any,
        index: int,
        hidden: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        pack: PackedPrompts,
        kv: SharedKV,
        groups: AdapterGroups,
    ) -> torch.Tensor:
        attn = layer.self_attn
        q, k, v = self._qkv(
            attn, _rms_norm(layer.input_layernorm, hidden), cos, sin, groups
        )  # (T, h, D)
        kv.store_prompts(index, pack, k, v)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # (heads, T, D)
        out = torch.cat(
            [
                F.scaled_dot_product_attention(
                    q[None, :, span], k[None, :, span], v[None, :, span],
                    is_causal=True, scale=self.scaling, enable_gqa=True,
                )[0]
                for span in pack.spans
            ],
            dim=1,
        )  # fmt: skip
        out = out.transpose(0, 1).reshape(hidden.shape[0], -1)  # (T, H * D)
        hidden = hidden + self._linear(attn.o_proj, out, groups)
        return hidden + self._mlp(layer, _rms_norm(layer.post_attention_layernorm, hidden), groups)

    def _qkv(
        self,
        attn: Any,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        groups: AdapterGroups,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Projected, rotated ``q`` ``(N, H, D)`` and ``k``, ``v`` ``(N, KVH, D)``."""
        n = x.shape[0]
        q = self._linear(attn.q_proj, x, groups).view(n, self.num_heads, self.head_dim)
        k = self._linear(attn.k_proj, x, groups).view(n, self.num_kv_heads, self.head_dim)
        v = self._linear(attn.v_proj, x, groups).view(n, self.num_kv_heads, self.head_dim)
        return rotate(q, cos, sin), rotate(k, cos, sin), v

    def _mlp(self, layer: Any, x: torch.Tensor, groups: AdapterGroups) -> torch.Tensor:
        mlp = layer.mlp
        gate = mlp.act_fn(self._linear(mlp.gate_proj, x, groups))
        return self._linear(mlp.down_proj, gate * self._linear(mlp.up_proj, x, groups), groups)

    def _rope(
        self, hidden: torch.Tensor, positions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's own rotary tables at ``positions`` ``(N,)`` → cos, sin ``(N, 1, D)``."""
        cos, sin = self.rotary(hidden[None], positions[None])
        return cos[0, :, None, :], sin[0, :, None, :]

    def _linear(self, module: Any, x: torch.Tensor, groups: AdapterGroups) -> torch.Tensor:
        """``module(x)`` for x ``(N, in)``, with a peft LoRA layer's adapters applied per row
        group; the base product in ``matmul_dtype`` when one is set."""
        if not isinstance(module, LoraLayer):
            return self._base(x, module)
        out = self._base(x, module.get_base_layer())
        if module.disable_adapters or module.merged:
            return out
        if groups is None:
            for name in module.active_adapters:
                if name in module.lora_A:
                    _add_lora(out, module, name, x)
            return out
        for name, rows in groups:
            if name is None or name not in module.lora_A:
                continue
            _add_lora(out, module, name, x, rows)
        return out

    def _base(self, x: torch.Tensor, layer: Any) -> torch.Tensor:
        if self.cast is None:
            return dense.linear(x, layer.weight, layer.bias)
        return self.cast.linear(x, layer.weight, layer.bias)


def _rms_norm(norm: Any, x: torch.Tensor) -> torch.Tensor:
    """The model's RMSNorm module's math (in float32, weight applied after) as one fused op."""
    out = F.rms_norm(x.float(), (x.shape[-1],), eps=norm.variance_epsilon)
    return norm.weight * out.to(x.dtype)


def _add_lora(
    out: torch.Tensor, module: Any, name: str, x: torch.Tensor, rows: torch.Tensor | None = None
) -> None:
    """``out[rows] += scaling · B(A(x[rows]))`` for adapter ``name`` (all rows when ``rows`` is
    None; dropout is off at inference), the scaling and the sum done by the last op itself."""
    a, b = module.lora_A[name].weight, module.lora_B[name].weight  # (r, in), (out, r)
    scaling = module.scaling[name]
    if rows is None:
        out.addmm_(F.linear(x, a), b.T, alpha=scaling)
    else:
        out.index_add_(0, rows, F.linear(F.linear(x.index_select(0, rows), a), b), alpha=scaling)


def row_groups(adapters: Sequence[str | None] | None, device: torch.device) -> AdapterGroups:
    """Rows grouped by adapter name; a single name for all rows needs no indexing."""
    if adapters is None:
        return None
    names = list(dict.fromkeys(adapters))
    if len(names) == 1:
        return [(names[0], None)]
    return [
        (name, torch.tensor([i for i, a in enumerate(adapters) if a == name], device=device))
        for name in names
    ]


def _token_groups(pack: PackedPrompts, adapters: Sequence[str | None] | None) -> AdapterGroups:
    """Adapter groups over the packed tokens of ``pack`` (each token takes its prompt's)."""
    if adapters is None:
        return None
    per_token = [adapters[p] for p, length in zip(pack.prompt_ids, pack.lengths, strict=True)
                 for _ in range(length)]  # fmt: skip
    return row_groups(per_token, pack.token_ids.device)


def _causal_lm(model: Any) -> Any:
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def _uses_unsupported_lora(module: nn.Module) -> bool:
    """LoRA on anything but a Linear layer (embeddings, convolutions), and DoRA, change math
    this path does not implement; those models run on the transformers path."""
    if not isinstance(module, LoraLayer):
        return False
    if not isinstance(module, LoraLinear):
        return True
    return any(bool(v) for v in getattr(module, "use_dora", {}).values())
