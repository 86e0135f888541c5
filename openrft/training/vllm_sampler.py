"""Rollouts on vLLM, with the policy's weights synced to the engine after every change.

Before sampling, if the policy's weights changed since the last sync (an optimizer step, a
resume): for a LoRA job its adapter alone (a few MB) is saved and loaded into the running vLLM
engine under a new name, and the previous version is dropped; the base weights are never
merged, copied or reloaded. A full fine-tune's weights are saved (safetensors) and reloaded by
the running engine in place: no restart, the server keeps its KV cache memory and compiled
state, and only the cached prefixes are dropped.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from openrft.domain.jobs import JobSpec
from openrft.domain.samples import RolloutSample
from openrft.inference.registry import canonical_base_name, resolve_model_dir
from openrft.inference.requests import SamplingParams
from openrft.inference.tokens import default_stop_token_ids
from openrft.inference.vllm_engine import VllmEngine
from openrft.inference.vllm_server import (
    ServerOptions,
    VllmServer,
    choose_engine,
    require_vllm_python,
    vllm_python,
)
from openrft.settings import Settings
from openrft.training.config import TrainConfig
from openrft.training.controller import TrainingRuntime
from openrft.training.policy import Policy
from openrft.training.rollout import Completion, SamplingConfig


class VllmSampler:
    """``Sampler`` on a ``VllmEngine`` serving the policy's base model: with LoRA enabled for a
    LoRA policy, with weight reloading for a full one."""

    def __init__(self, engine: VllmEngine, policy: Policy, sync_dir: Path) -> None:
        self.engine = engine
        self.policy = policy
        self.sync_dir = sync_dir
        self.adapter: str | None = None
        self.synced_version = -1
        self.sync_seconds: list[float] = []  # one entry per sync
        self.pinned = False

    def pin_weights(self) -> None:
        """Sync now, and only on the next call from now on: the trainer may update its
        weights while this samples (``async_rollouts``)."""
        self.sync()
        self.pinned = True

    def sample(
        self, prompts: list[list[int]], config: SamplingConfig, n: int
    ) -> list[list[Completion]]:
        if not self.pinned:
            self.sync()
        params = SamplingParams(
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=config.seed,
            logprobs=True,
        )
        groups = self.engine.generate(prompts, params, n, adapter=self.adapter)
        # The engine's completions satisfy the protocol (its finish_reason is a Literal).
        return cast(list[list[Completion]], groups)

    def sync(self) -> None:
        """Bring the engine to the policy's current weights unless it already has them."""
        version = self.policy.version
        if version == self.synced_version:
            return
        started = time.perf_counter()
        if self.policy.is_lora:
            self._load_adapter(f"policy-v{version}")
        else:
            self._reload_weights()
        self.synced_version = version
        self.sync_seconds.append(time.perf_counter() - started)

    def _load_adapter(self, name: str) -> None:
        out_dir = self.sync_dir / name
        self.policy.model.save_pretrained(out_dir)  # type: ignore[operator]
        self.engine.load_adapter(name, out_dir)
        previous, self.adapter = self.adapter, name
        if previous is not None:
            self.engine.unload_adapter(previous)
            shutil.rmtree(self.sync_dir / previous, ignore_errors=True)

    def _reload_weights(self) -> None:
        """Overwrite one weights directory and have the engine reload it in place."""
        out_dir = self.sync_dir / "weights"
        self.policy.model.save_pretrained(out_dir)  # type: ignore[operator]
        self.engine.reload_weights(out_dir)


def job_rollout_engine(config: TrainConfig, settings: Settings) -> str:
    """``"openrft"`` or ``"vllm"`` for a job (``rollout_engine``; "auto" follows the server's
    ``inference_engine``)."""
    python = vllm_python(settings.vllm_python)
    return choose_engine(config.rollout_engine, settings.inference_engine, python)


class SyncReport:
    """A ``StepObserver`` that reports the job's syncs (count, mean time) as an event when
    the loop ends, before the job's final status."""

    def __init__(self, job_id: str, runtime: TrainingRuntime, sampler: VllmSampler) -> None:
        self.job_id = job_id
        self.runtime = runtime
        self.sampler = sampler

    def on_samples(self, samples: Sequence[RolloutSample]) -> None:
        pass

    def on_step(self, step: int, metrics: dict[str, Any]) -> None:
        pass

    def on_finish(self, outcome: str) -> None:
        times = self.sampler.sync_seconds
        if not times:
            return
        count, mean = len(times), statistics.fmean(times)
        kind = "adapter" if self.sampler.policy.is_lora else "weights"
        self.runtime.add_event(
            self.job_id,
            f"vLLM {kind} syncs: {count}, {mean:.2f} s each on average.",
            data={"vllm_sync": kind, "vllm_syncs": count, "vllm_sync_s_mean": mean},
        )


@contextmanager
def vllm_rollouts(
    spec: JobSpec,
    config: TrainConfig,
    settings: Settings,
    runtime: TrainingRuntime,
    policy: Policy,
    scratch: Path,
) -> Iterator[tuple[VllmSampler, SyncReport]]:
    """A vLLM server of the job's base model for its rollouts and evaluations (stopped at
    exit), and the observer that reports its syncs."""
    model_config: Any = policy.causal_lm.config
    options = ServerOptions(
        python=require_vllm_python(settings.vllm_python),
        model_dir=resolve_model_dir(
            canonical_base_name(spec.model), cache_dir=settings.resolved_model_cache_dir
        ),
        dtype=config.dtype,
        max_model_len=min(int(getattr(model_config, "max_position_embeddings", 2048)), 32768),
        max_lora_rank=config.lora_rank,
        threads=settings.training_threads,
        weight_reload=not policy.is_lora,
    )
    server = VllmServer(options, scratch / "vllm.log")
    stops = default_stop_token_ids(policy.tokenizer, policy.causal_lm)
    client = VllmEngine(server.base_url, stops, int(model_config.vocab_size))
    sampler = VllmSampler(client, policy, scratch / "vllm-sync")
    synced = "LoRA adapter" if policy.is_lora else "model's weights (reloaded in place)"
    runtime.add_event(
        spec.id, f"Rollouts and evaluations run on vLLM; the {synced} sync after each step."
    )
    try:
        yield sampler, SyncReport(spec.id, runtime, sampler)
    finally:
        client.close()
        server.close()
