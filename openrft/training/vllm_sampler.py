"""Rollouts on vLLM with adapter-only weight sync.

Before sampling, if the policy's weights changed since the last sync (an optimizer step, a
resume), its LoRA adapter alone (a few MB) is saved and loaded into the running vLLM engine
under a new name, and the previous version is dropped. The base weights are never merged,
copied or reloaded.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import cast

from openrft.inference.requests import SamplingParams
from openrft.inference.vllm_engine import VllmEngine
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

    def sample(
        self, prompts: list[list[int]], config: SamplingConfig, n: int
    ) -> list[list[Completion]]:
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
