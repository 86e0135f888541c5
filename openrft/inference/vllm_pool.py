"""Serving on vLLM: one managed server per base model, fine-tuned models as LoRA adapters.

The same interface as ``openrft.inference.pool.ModelPool`` (``get`` / ``run`` / ``close``), so
chat and responses work on either engine. A base model's server starts on first use and every
adapter fine-tuned from it is loaded into that server by name on first use (vLLM re-reads an
adapter it evicted from its own path). Full fine-tuned weights get a server of their own.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from transformers import AutoConfig, GenerationConfig

from openrft.inference.adapters import adapter_name, is_lora_dir
from openrft.inference.pool import serving_key, serving_model_dir
from openrft.inference.registry import load_tokenizer
from openrft.inference.requests import GenerationRequest
from openrft.inference.tokens import default_stop_token_ids
from openrft.inference.vllm_engine import VllmEngine
from openrft.inference.vllm_server import ServerOptions, VllmServer

SERVING_MAX_LORA_RANK = 64
SERVING_MAX_CONTEXT = 32768


@dataclass(eq=False)
class VllmModel:
    """A served model: its tokenizer, context length and the client of its server."""

    key: str
    tokenizer: Any
    max_positions: int
    engine: VllmEngine
    server: VllmServer
    adapters: set[str]


class VllmPool:
    """Starts vLLM servers lazily and routes each request to its base model's server."""

    def __init__(self, cache_dir: Path, python: Path, log_dir: Path, threads: int | None) -> None:
        self.cache_dir = cache_dir
        self.python = python
        self.log_dir = log_dir
        self.threads = threads
        self._models: dict[str, VllmModel] = {}
        self._lock = threading.Lock()

    async def get(self, base_model: str, weights_dir: Path | None = None) -> VllmModel:
        key = serving_key(base_model, weights_dir)
        loaded = self._models.get(key)
        if loaded is not None:
            return loaded
        return await asyncio.to_thread(self._load, key, base_model, weights_dir)

    async def run(
        self, loaded: VllmModel, request: GenerationRequest, weights_dir: Path | None
    ) -> None:
        """Decode ``request`` on the model's server (with its adapter, if it has one)."""
        await asyncio.to_thread(self._run, loaded, request, weights_dir)

    def close(self) -> None:
        for loaded in self._models.values():
            loaded.engine.close()
            loaded.server.close()
        self._models.clear()

    def _run(self, loaded: VllmModel, request: GenerationRequest, weights_dir: Path | None) -> None:
        adapter = None
        if weights_dir is not None and is_lora_dir(weights_dir):
            adapter = adapter_name(weights_dir)
            with self._lock:
                if adapter not in loaded.adapters:
                    loaded.engine.load_adapter(adapter, weights_dir)
                    loaded.adapters.add(adapter)
        loaded.engine.run(request, adapter)

    def _load(self, key: str, base_model: str, weights_dir: Path | None) -> VllmModel:
        with self._lock:
            if key in self._models:
                return self._models[key]
            tokenizer = load_tokenizer(base_model, cache_dir=self.cache_dir)
            model_dir = serving_model_dir(key, base_model, weights_dir, self.cache_dir)
            config = AutoConfig.from_pretrained(model_dir)
            positions = int(getattr(config, "max_position_embeddings", 2048))
            options = ServerOptions(
                python=self.python,
                model_dir=model_dir,
                max_model_len=min(positions, SERVING_MAX_CONTEXT),
                max_lora_rank=0 if key.startswith("full:") else SERVING_MAX_LORA_RANK,
                threads=self.threads,
            )
            slug = key.replace("/", "_").replace(":", "-")[-100:]
            server = VllmServer(options, self.log_dir / f"vllm-{slug}.log")
            stops = default_stop_token_ids(tokenizer, _with_generation_config(model_dir, config))
            loaded = VllmModel(
                key,
                tokenizer,
                options.max_model_len,
                VllmEngine(server.base_url, stops, int(config.vocab_size)),
                server,
                set(),
            )
            self._models[key] = loaded
            return loaded


def _with_generation_config(model_dir: str, config: Any) -> SimpleNamespace:
    """What ``default_stop_token_ids`` reads of a model (``generation_config``: its eos ids)
    without loading its weights."""
    try:
        generation = GenerationConfig.from_pretrained(model_dir)
    except OSError:
        generation = GenerationConfig.from_model_config(config)
    return SimpleNamespace(generation_config=generation)
