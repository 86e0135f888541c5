"""The serving model pool: one in-memory copy per base model, adapters attached per request.

``await pool.get(base, weights_dir)`` loads a model (in a thread, once) and returns it;
``await pool.run(loaded, request, weights_dir)`` queues a generation request on that model's
batching worker and resolves when it is decoded. A ``weights_dir`` holding a peft adapter runs
on its base model's copy; one holding full fine-tuned weights is a model of its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from openrft.inference.adapters import BASE_ADAPTER, AdapterSet, is_lora_dir
from openrft.inference.batcher import BatchWorker, ServeJob, Take
from openrft.inference.engine import GenerationEngine
from openrft.inference.registry import (
    canonical_base_name,
    load_model_dir,
    load_tokenizer,
    resolve_model_dir,
)
from openrft.inference.requests import GenerationRequest
from openrft.threads import set_max_threads

log = logging.getLogger(__name__)


def serving_key(base_model: str, weights_dir: Path | None) -> str:
    """Which in-memory model serves a request: its base (adapters ride on it), or for full
    fine-tuned weights a model of their own."""
    if weights_dir is not None and not is_lora_dir(weights_dir):
        return f"full:{weights_dir.resolve()}"
    return f"base:{canonical_base_name(base_model)}"


def serving_model_dir(key: str, base_model: str, weights_dir: Path | None, cache_dir: Path) -> str:
    """The directory the model of ``serving_key`` loads from."""
    if key.startswith("full:"):
        assert weights_dir is not None
        return str(weights_dir)
    return resolve_model_dir(canonical_base_name(base_model), cache_dir=cache_dir)


@dataclass(eq=False)
class LoadedModel:
    """A model in memory with its tokenizer, adapters, engine and batching worker.

    ``max_positions``: the context length (prompt + completion tokens); ``max_batch_rows``:
    at most this many samples decode together.
    """

    key: str
    tokenizer: Any
    adapters: AdapterSet
    engine: GenerationEngine
    max_positions: int
    max_batch_rows: int
    worker: BatchWorker | None = None


class ModelPool:
    """Loads models lazily and serves them with batched, thread-run generation."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        adapter_budget_bytes: int,
        threads: int | None = None,
        max_batch_rows: int = 64,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.cache_dir = cache_dir
        self.adapter_budget_bytes = adapter_budget_bytes
        self.max_batch_rows = max_batch_rows
        self.dtype = dtype
        if threads:
            set_max_threads(threads)
        self._models: dict[str, LoadedModel] = {}
        self._load_lock = threading.Lock()

    async def get(self, base_model: str, weights_dir: Path | None = None) -> LoadedModel:
        """The loaded model serving ``base_model`` (+ ``weights_dir``), loading it if needed."""
        key = self._key(base_model, weights_dir)
        loaded = self._models.get(key)
        if loaded is not None:
            return loaded
        return await asyncio.to_thread(self._load, key, base_model, weights_dir)

    async def run(
        self, loaded: LoadedModel, request: GenerationRequest, weights_dir: Path | None
    ) -> None:
        """Decode ``request`` (filling ``request.completions``); cancelling stops its rows."""
        assert loaded.worker is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_resolve, future, error)

        adapter_dir = weights_dir if weights_dir is not None and is_lora_dir(weights_dir) else None
        loaded.worker.submit(ServeJob(request, adapter_dir, done))
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            request.cancelled = True
            raise

    def close(self) -> None:
        for loaded in self._models.values():
            if loaded.worker is not None:
                loaded.worker.close()
        self._models.clear()

    _key = staticmethod(serving_key)

    def _load(self, key: str, base_model: str, weights_dir: Path | None) -> LoadedModel:
        with self._load_lock:
            if key in self._models:
                return self._models[key]
            tokenizer = load_tokenizer(base_model, cache_dir=self.cache_dir)
            model_dir = serving_model_dir(key, base_model, weights_dir, self.cache_dir)
            model = load_model_dir(model_dir, dtype=self.dtype)
            loaded = LoadedModel(
                key=key,
                tokenizer=tokenizer,
                adapters=AdapterSet(model, self.adapter_budget_bytes),
                engine=GenerationEngine(model, tokenizer),
                max_positions=int(getattr(model.config, "max_position_embeddings", 2048)),
                max_batch_rows=self.max_batch_rows,
            )
            loaded.worker = BatchWorker(
                lambda jobs, take: _run_batch(loaded, jobs, take),
                name=key,
                max_rows=self.max_batch_rows,
            )
            self._models[key] = loaded
            return loaded


def _run_batch(loaded: LoadedModel, jobs: list[ServeJob], take: Take) -> None:
    """Attach the batch's adapters, evict others over budget, then decode; queued jobs join
    the running batch when their adapter (if any) is already attached."""
    adapters = loaded.adapters
    ready: list[ServeJob] = []
    for job in jobs:
        try:
            if job.adapter_dir is not None:
                job.request.adapter_name = adapters.attach(job.adapter_dir)
            ready.append(job)
        except Exception as exc:  # a broken adapter fails its own request only
            log.exception("cannot load adapter %s", job.adapter_dir)
            job.done(exc)
    in_use = {j.request.adapter_name for j in ready if j.request.adapter_name is not None}
    adapters.evict_over_budget(in_use)
    loaded.engine.model = adapters.model
    pending: dict[GenerationRequest, ServeJob] = {}

    def start(job: ServeJob) -> GenerationRequest:
        request = job.request
        if job.adapter_dir is not None:
            request.adapter_name = adapters.attach(job.adapter_dir)  # already attached
        elif adapters.peft_model is not None:
            request.adapter_name = BASE_ADAPTER
        pending[request] = job
        request.on_done = lambda: pending.pop(request).done(None)
        return request

    def joinable(job: ServeJob) -> bool:
        return job.adapter_dir is None or adapters.is_attached(job.adapter_dir)

    def admit(live_rows: int) -> list[GenerationRequest]:
        room = loaded.max_batch_rows - live_rows
        return [start(job) for job in take(room, joinable)] if room > 0 else []

    requests = [start(job) for job in ready]
    try:
        loaded.engine.run(requests, admit)
    except Exception as exc:
        log.exception("generation batch failed")
        for job in list(pending.values()):
            job.done(exc)


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
