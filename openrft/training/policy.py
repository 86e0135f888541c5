"""The trained policy: LoRA on every linear layer (peft, with the adapter fused into the base
matmuls: ``training.lora``), or every weight when ``lora_rank`` is 0. A model on transformers'
``sdpa`` attention is switched to ``training.attention`` (the same function, computed faster
for short sequences), and its Llama-style RMSNorms compute forward and backward as one
autograd Function (``training.norm``), as do a LoRA model's Llama MLPs (``training.lora_mlp``)
and its Llama attention blocks' projections and rotary embedding (``training.lora_attention``).

The reference policy for the KL term is the same model with the adapter disabled, so LoRA runs
hold one copy of the base weights. A full fine-tune keeps a frozen copy for the reference only
when ``beta > 0``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
from safetensors.torch import load_file
from torch import nn

from openrft.training import attention, lora_attention, lora_mlp, norm
from openrft.training.lora import FusedLoraLinear

if TYPE_CHECKING:
    from openrft.training.config import TrainConfig

ADAPTER_FILE = "adapter_model.safetensors"
FULL_MODEL_FILE = "model.safetensors"


class Policy:
    """Wraps the model being trained. ``model`` is what the generation engine samples from."""

    def __init__(
        self, base: nn.Module, tokenizer: Any, *, lora_rank: int, lora_alpha: float, beta: float
    ):
        self.tokenizer = tokenizer
        self.is_lora = lora_rank > 0
        # Bumped on every change of the trained weights (optimizer step, resume), so an
        # inference engine holding a copy of the adapter knows when to sync it.
        self.version = 0
        self._reference: nn.Module | None = None
        if getattr(base.config, "_attn_implementation", None) == "sdpa":
            base.set_attn_implementation(attention.register())  # type: ignore[operator]
        norm.fuse_rms_norms(base)
        if self.is_lora:
            config = LoraConfig(
                r=lora_rank,
                lora_alpha=cast(Any, lora_alpha),  # peft types it int; floats work
                lora_dropout=0.0,
                target_modules="all-linear",
                task_type="CAUSAL_LM",
            )
            config._register_custom_module({nn.Linear: FusedLoraLinear})
            self.model: nn.Module = get_peft_model(base, config)
            lora_mlp.fuse_gated_mlps(self.model)
            lora_attention.fuse_lora_attention(self.model)
        else:
            if beta > 0:
                self._reference = copy.deepcopy(base).requires_grad_(False)
            self.model = base.requires_grad_(True)
        self.model.eval()  # no dropout: sampling and training see the same function

    @property
    def causal_lm(self) -> nn.Module:
        """The transformers causal LM (with LoRA layers injected when LoRA)."""
        if isinstance(self.model, PeftModel):
            return self.model.get_base_model()
        return self.model

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    @contextmanager
    def reference(self) -> Iterator[nn.Module]:
        """The reference policy's causal LM, for use under ``torch.no_grad()``."""
        if self._reference is not None:
            yield self._reference
            return
        if not isinstance(self.model, PeftModel):
            yield self.causal_lm  # beta == 0 full fine-tune: no reference is ever needed
            return
        with self.model.disable_adapter():
            yield self.causal_lm

    def trained_state(self) -> dict[str, torch.Tensor]:
        """The trainable tensors by name (the LoRA adapter, or every weight of a full
        fine-tune): what another copy of this policy needs to generate like it."""
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def load_trained_state(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``trained_state()`` of a policy built the same way into this one."""
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, tensor in state.items():
                params[name].copy_(tensor)

    def save(self, out_dir: Path) -> None:
        """Adapter (``adapter_config.json`` + ``adapter_model.safetensors``) or, for a full
        fine-tune, ``config.json`` + ``model.safetensors``; plus the tokenizer when full."""
        out_dir.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out_dir)  # type: ignore[operator]
        if not self.is_lora:
            self.tokenizer.save_pretrained(out_dir)

    def load_weights(self, src_dir: Path) -> None:
        """Load trained weights written by ``save`` (resume)."""
        self.version += 1
        if isinstance(self.model, PeftModel):
            set_peft_model_state_dict(self.model, load_file(str(src_dir / ADAPTER_FILE)))
            return
        state = load_file(str(src_dir / FULL_MODEL_FILE))
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        if unexpected:
            raise ValueError(f"checkpoint has unexpected tensors: {unexpected[:3]}")
        del missing  # tied weights (lm_head) are not stored separately


def load_policy(model: str, config: TrainConfig, cache_dir: Path, *, beta: float) -> Policy:
    """The policy a job trains: base model ``model`` (converted into ``cache_dir``) with the
    adapter or full fine-tune of ``config``. A job and each of its Ray actors build it so."""
    from openrft.inference.registry import load_base_model

    base, tokenizer = load_base_model(model, cache_dir=cache_dir, dtype=config.torch_dtype)
    return Policy(
        base, tokenizer, lora_rank=config.lora_rank, lora_alpha=config.lora_alpha, beta=beta
    )
