"""Tiny random models of the seed's families, built offline: ``tiny-random-qwen3`` (Qwen3:
q/k norms, explicit head dim) and ``tiny-random-gpt-oss`` (gpt-oss: mixture of experts,
attention sinks, alternating sliding-window and full attention).

They share ``tiny-random-llama``'s byte-level ChatML tokenizer; only the architecture differs.
Seeded, so every process builds the same weights; the registry caches the built dir.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, GptOssConfig, PretrainedConfig, Qwen3Config

from openrft.inference.tiny_llama import TINY_SEED, build_tiny_tokenizer

# Token ids → a config of the family (vocab_size, pad, eos).
ConfigFactory = Callable[[int, int, int], PretrainedConfig]


def qwen3_config(vocab_size: int, pad_token_id: int, eos_token_id: int) -> Qwen3Config:
    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,  # vLLM's CPU attention kernels start at 32
        max_position_embeddings=4096,
        initializer_range=0.3,  # peaked next-token distributions: no greedy near-ties
        tie_word_embeddings=False,
        pad_token_id=pad_token_id,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
    )


def gpt_oss_config(vocab_size: int, pad_token_id: int, eos_token_id: int) -> GptOssConfig:
    return GptOssConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=64,
        num_hidden_layers=2,
        num_local_experts=4,
        num_experts_per_tok=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,  # as gpt-oss-20b; vLLM's CPU attention kernels start at 32
        sliding_window=32,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=4096,
        initializer_range=0.3,
        tie_word_embeddings=False,
        pad_token_id=pad_token_id,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
    )


def tiny_writer(make_config: ConfigFactory) -> Callable[[Path], None]:
    """A function that builds the family's seeded random model with the byte-level tokenizer
    and saves both (safetensors, float32) into a directory."""

    def write(out_dir: Path) -> None:
        tokenizer = build_tiny_tokenizer()
        config = make_config(len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)

    return write
