"""Batch-1 chat decode tokens/s against this machine's memory-bandwidth limit (issue 19).

A batch-1 decode step reads every weight once (the tied embedding matrix in full, as the LM
head) and does 2 FLOPs per weight: on CPU at batch 1 that is far below the matmul peak, so the
limit is ``read bandwidth / weight bytes`` tokens/s. The bandwidth is measured here: the best
``torch.sum`` over a 1 GiB fp32 tensor (read only, the access pattern of a matrix-vector
product). The decode is openrft's engine, greedy, one chat prompt, ``--tokens`` new tokens, timed
after a warm-up call; its time per token is also compared with the time to read the weights once.
Output: ``bench/results/decode_bandwidth.json``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from bench import reference_config as ref
from bench.child import write_result

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "decode_bandwidth.json"
PROMPT = "Write a long story about a lighthouse keeper and a storm."


def read_bandwidth(gib: float = 1.0, reps: int = 5) -> float:
    """Best read bandwidth in bytes/s of ``torch.sum`` over ``gib`` GiB of fp32."""
    data = torch.ones(int(gib * 2**30) // 4)
    data.sum()
    best = min(_timed(data.sum) for _ in range(reps))
    return data.numel() * 4 / best


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_bandwidth", description=__doc__)
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per decode")
    parser.add_argument("--reps", type=int, default=3, help="timed decodes")
    args = parser.parse_args(argv)
    from openrft.inference.engine import GenerationEngine, SamplingParams
    from openrft.inference.registry import load_base_model
    from openrft.inference.tokens import encode_chat
    from openrft.settings import Settings

    model, tokenizer = load_base_model(ref.MODEL, cache_dir=Settings().resolved_model_cache_dir)
    engine = GenerationEngine(model, tokenizer)
    prompt = encode_chat(tokenizer, [{"role": "user", "content": PROMPT}])
    params = SamplingParams(max_new_tokens=args.tokens, temperature=0.0)
    engine.generate([prompt], params, n=1)  # warm-up
    rates = []
    for _ in range(args.reps):
        start = time.perf_counter()
        [[completion]] = engine.generate([prompt], params, n=1)
        rates.append(len(completion.token_ids) / (time.perf_counter() - start))
    bandwidth = read_bandwidth()
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    limit = bandwidth / weight_bytes
    rate = statistics.median(rates)
    result = {
        "benchmark": "decode_bandwidth",
        "torch_threads": torch.get_num_threads(),
        "weight_mib": round(weight_bytes / 2**20, 1),
        "read_bandwidth_gib_per_s": round(bandwidth / 2**30, 2),
        "bandwidth_limit_tokens_per_s": round(limit, 1),
        "decode_tokens_per_s": [round(r, 1) for r in rates],
        "fraction_of_bandwidth_limit": round(rate / limit, 3),
        "ms_per_token": round(1000 / rate, 2),
        "ms_to_read_weights_once": round(1000 / limit, 2),
    }
    write_result(RESULTS_PATH, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
