"""Rollout generation: openrft's engine vs ``transformers`` ``generate``, tokens/s (issue 7).

Identical inputs on both sides: the reference step's 8 GSM8K prompts × 8 samples (batch 64),
up to 64 new tokens, temperature 1.0, SmolLM2-135M-Instruct in fp32 on CPU. Targets: ≥ 3× HF
and ≥ 50 % of the ≈ 600 tokens/s fp32 decode roofline. Reported, never asserted.
Output: ``bench/results/generation.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench import reference_config as ref
from openrft.inference.engine import GenerationEngine, SamplingParams
from openrft.inference.registry import load_base_model
from openrft.inference.tokens import encode_chat
from openrft.settings import Settings

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "generation.json"
FP32_ROOFLINE_TOKENS_PER_S = 600.0  # 135M params × 2 FLOP/token at ≈ 167 GFLOP/s (issue 7)


def add_generation_args(parser: argparse.ArgumentParser) -> None:
    """The model and the batch shape (the reference step's by default)."""
    parser.add_argument("--model", default=ref.MODEL)
    parser.add_argument("--prompts", type=int, default=ref.PROMPTS_PER_STEP)
    parser.add_argument("--samples", type=int, default=ref.GROUP_SIZE)
    parser.add_argument("--max-new-tokens", type=int, default=ref.MAX_NEW_TOKENS)


@dataclass
class GenerationSetup:
    """The model, its tokenizer, the reference prompts and openrft's engine, warmed up."""

    model: Any
    tokenizer: Any
    prompts: list[list[int]]
    engine: GenerationEngine

    def config(self, args: argparse.Namespace) -> dict[str, Any]:
        """What a result records of its inputs (``args`` from ``add_generation_args``)."""
        return {
            **ref.describe(),
            "model": args.model,
            "prompts": len(self.prompts),
            "samples": args.samples,
            "max_new_tokens": args.max_new_tokens,
            "torch_threads": torch.get_num_threads(),
        }


def prepare_generation(model_name: str, prompt_count: int) -> GenerationSetup:
    """Load ``model_name``, render the first ``prompt_count`` reference prompts, warm up."""
    model, tokenizer = load_base_model(model_name, cache_dir=Settings().resolved_model_cache_dir)
    rows = ref.reference_rows(1)[:prompt_count]
    prompts = [encode_chat(tokenizer, row["messages"]) for row in rows]
    engine = GenerationEngine(model, tokenizer)
    engine.generate(prompts[:1], SamplingParams(max_new_tokens=2), n=2)  # warm-up
    return GenerationSetup(model, tokenizer, prompts, engine)


def run_engine(engine: GenerationEngine, prompts: list[list[int]], samples: int, new: int) -> dict:
    """One engine call: every prompt prefilled once, ``samples`` completions each."""
    params = SamplingParams(max_new_tokens=new, temperature=ref.TEMPERATURE, seed=ref.SEED)
    start = time.perf_counter()
    groups = engine.generate(prompts, params, n=samples)
    seconds = time.perf_counter() - start
    tokens = sum(len(c.token_ids) for group in groups for c in group)
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": tokens / seconds}


def run_transformers(
    model: Any, tokenizer: Any, prompts: list[list[int]], samples: int, new: int, stops: list
) -> dict:
    """``model.generate`` as TRL calls it: left-padded prompts, ``num_return_sequences``."""
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    torch.manual_seed(ref.SEED)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            temperature=ref.TEMPERATURE,
            top_p=1.0,
            top_k=0,
            max_new_tokens=new,
            num_return_sequences=samples,
            eos_token_id=stops,
            pad_token_id=pad,
        )
    seconds = time.perf_counter() - start
    tokens = sum(_generated_length(row, set(stops)) for row in out[:, width:].tolist())
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": tokens / seconds}


def _generated_length(row: list[int], stops: set[int]) -> int:
    """Tokens up to and including the first stop token (the rest is padding)."""
    for i, token in enumerate(row):
        if token in stops:
            return i + 1
    return len(row)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_generation_args(parser)
    parser.add_argument("--skip-transformers", action="store_true")
    parser.add_argument("--threads", type=int, help="torch threads [torch's default].")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    setup = prepare_generation(args.model, args.prompts)
    prompts = setup.prompts
    load_before = os.getloadavg()[0]
    result: dict[str, Any] = {
        "config": setup.config(args),
        "prompt_tokens": [len(p) for p in prompts],
        "openrft": run_engine(setup.engine, prompts, args.samples, args.max_new_tokens),
    }
    if not args.skip_transformers:
        stops = sorted(setup.engine.default_stop_ids)
        hf = run_transformers(
            setup.model, setup.tokenizer, prompts, args.samples, args.max_new_tokens, stops
        )
        result["transformers"] = hf
        result["speedup"] = result["openrft"]["tokens_per_s"] / hf["tokens_per_s"]
    result["fraction_of_fp32_roofline"] = (
        result["openrft"]["tokens_per_s"] / FP32_ROOFLINE_TOKENS_PER_S
    )
    result["load_average"] = {"before": load_before, "after": os.getloadavg()[0]}
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
