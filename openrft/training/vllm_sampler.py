"""Rollouts on vLLM with adapter-only weight sync.

Before sampling, if the policy's weights changed since the last sync (an optimizer step, a
resume), its LoRA adapter alone (a few MB) is saved and loaded into the running vLLM engine
under a new name, and the previous version is dropped. The base weights are never merged,
copied or reloaded.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from openrft.domain.jobs import JobSpec
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
    """``Sampler`` on a ``VllmEngine`` serving the policy's base model with LoRA enabled."""

    def __init__(self, engine: VllmEngine, policy: Policy, sync_dir: Path) -> None:
        if not policy.is_lora:
            raise ValueError("vLLM rollouts sync LoRA adapters only; this policy is a full model")
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
        """Load the current adapter into the engine unless it already has this version."""
        version = self.policy.version
        if version == self.synced_version:
            return
        started = time.perf_counter()
        name = f"policy-v{version}"
        out_dir = self.sync_dir / name
        self.policy.model.save_pretrained(out_dir)  # type: ignore[operator]
        self.engine.load_adapter(name, out_dir)
        previous, self.adapter, self.synced_version = self.adapter, name, version
        if previous is not None:
            self.engine.unload_adapter(previous)
            shutil.rmtree(self.sync_dir / previous, ignore_errors=True)
        self.sync_seconds.append(time.perf_counter() - started)


def job_rollout_engine(config: TrainConfig, settings: Settings, policy: Policy) -> str:
    """``"openrft"`` or ``"vllm"`` for a job (``rollout_engine``; "auto" follows the server's
    ``inference_engine``). A full fine-tune asked to run on vLLM is an error; on "auto" it
    samples on openrft's engine."""
    python = vllm_python(settings.vllm_python)
    engine = choose_engine(config.rollout_engine, settings.inference_engine, python)
    if engine == "vllm" and not policy.is_lora:
        if config.rollout_engine == "vllm":
            raise ValueError("rollout_engine 'vllm' needs a LoRA job (lora_rank > 0)")
        return "openrft"
    return engine


@contextmanager
def vllm_rollouts(
    spec: JobSpec,
    config: TrainConfig,
    settings: Settings,
    runtime: TrainingRuntime,
    policy: Policy,
    scratch: Path,
) -> Iterator[VllmSampler]:
    """A vLLM server of the job's base model for its rollouts and evaluations (stopped at
    exit); the sync count and mean time are reported as an event."""
    model_config = policy.causal_lm.config
    options = ServerOptions(
        python=require_vllm_python(settings.vllm_python),
        model_dir=resolve_model_dir(
            canonical_base_name(spec.model), cache_dir=settings.resolved_model_cache_dir
        ),
        dtype=config.dtype,
        max_model_len=min(int(getattr(model_config, "max_position_embeddings", 2048)), 32768),
        max_lora_rank=config.lora_rank,
        threads=settings.training_threads,
    )
    server = VllmServer(options, scratch / "vllm.log")
    client = VllmEngine(server.base_url, default_stop_token_ids(policy.tokenizer, policy.causal_lm))
    sampler = VllmSampler(client, policy, scratch / "adapters")
    runtime.add_event(
        spec.id, "Rollouts and evaluations run on vLLM; the LoRA adapter syncs after each step."
    )
    try:
        yield sampler
    finally:
        client.close()
        server.close()
        if sampler.sync_seconds:
            mean = sum(sampler.sync_seconds) / len(sampler.sync_seconds)
            runtime.add_event(
                spec.id,
                f"vLLM adapter syncs: {len(sampler.sync_seconds)}, {mean:.2f} s each on average.",
                data={"vllm_adapter_syncs": len(sampler.sync_seconds), "vllm_sync_s_mean": mean},
            )
