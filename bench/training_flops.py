"""The training pass's achieved FLOP/s against this machine's fp32 matmul peak (issue 19).

The pass is ``Learner.step`` (forward, backward, AdamW) on one batch of the learning workload's
shape (bench/workloads.py: 8 topic prompts × 8 completions of 48 tokens, SmolLM2-135M-Instruct
fp32, LoRA r16 on all linear layers); completions are random tokens at full length and every
group has reward variance, so every group trains. FLOPs are counted by
``torch.utils.flop_counter.FlopCounterMode`` on one step after a warm-up step (matmuls,
including the fused LoRA layers' in-place ``addmm_``, the oneDNN matmuls of ``openrft.dense``,
and attention, forward and backward: torch's counter maps only the GPU flash kernels, so the
CPU one is mapped here). The peak is the best FLOP/s on square fp32 matrices of several sizes
(``PEAK_SIZES``) of both libraries torch multiplies with on CPU, MKL (``torch.matmul``) and
oneDNN (``openrft.dense.onednn_linear``, on x86), same threads, measured right before each timed
pass: a shared machine's speed drifts, so each pass is set against the peak of its own moment.
``fraction_of_peak`` is the median over the passes of (counted FLOPs / pass time) / that peak;
``fraction_of_best_peak`` sets the median pass against the best peak of the whole run (the
stricter reading). ``--profile`` adds ``torch.profiler``'s top operators. Output:
``bench/results/training_flops.json``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import (
    FlopCounterMode,
    mm_flop,
    sdpa_backward_flop_count,
    sdpa_flop_count,
)

from bench import reference_config as ref
from bench.child import write_result
from bench.workloads import LEARNING

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "training_flops.json"
# Square sizes the peak is taken over: no single size is the fastest on every CPU.
PEAK_SIZES = (1024, 2048, 3072)


def matmul_peak_flops(reps: int = 4) -> float:
    """Best fp32 FLOP/s of MKL and oneDNN on square matrices with the current threads."""
    from openrft import dense

    products = [torch.matmul] + ([lambda a, b: dense.onednn_linear(a, b.T)] if dense.ONEDNN else [])
    best = 0.0
    for size in PEAK_SIZES:
        a, b = torch.randn(size, size), torch.randn(size, size)
        for product in products:
            product(a, b)
            for _ in range(reps):
                start = time.perf_counter()
                product(a, b)
                best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best


def _addmm_flop(self_shape: Any, a_shape: Any, b_shape: Any, **kwargs: Any) -> int:
    """FLOPs of the in-place ``addmm_``, which torch's counter does not know: its matmul's."""
    return int(mm_flop(a_shape, b_shape))


def _attention_flop(q_shape: Any, k_shape: Any, v_shape: Any, *args: Any, **kwargs: Any) -> int:
    """FLOPs of CPU flash attention: ``Q Kᵀ`` and ``P V`` over every (query, key) pair."""
    return int(sdpa_flop_count(q_shape, k_shape, v_shape))


def _attention_grad_flop(
    grad_shape: Any, q_shape: Any, k_shape: Any, v_shape: Any, *args: Any, **kwargs: Any
) -> int:
    """FLOPs of CPU flash attention's backward, as torch counts the GPU kernels'."""
    return int(sdpa_backward_flop_count(grad_shape, q_shape, k_shape, v_shape))


def _linear_flop(x_shape: Any, weight_shape: Any, *args: Any, **kwargs: Any) -> int:
    """FLOPs of oneDNN's linear (``openrft.dense``): x ``(..., in)`` times weight ``(out, in)``ᵀ."""
    rows = math.prod(x_shape[:-1])
    return 2 * rows * int(weight_shape[0]) * int(weight_shape[1])


@dataclass
class _Completion:
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str = "length"


def learning_batch(tokenizer: Any) -> list[Any]:
    """One step of the learning workload: its prompts, random full-length completions."""
    from openrft.inference.tokens import encode_chat
    from openrft.training.rollout import GroupRollout

    generator = torch.Generator().manual_seed(ref.SEED)
    groups = []
    for row in LEARNING.train_rows(1):
        shape = (ref.GROUP_SIZE, LEARNING.max_new_tokens)
        ids = torch.randint(0, tokenizer.vocab_size, shape, generator=generator)
        completions = [_Completion(i.tolist(), [-3.0] * len(i)) for i in ids]
        prompt = encode_chat(tokenizer, row["messages"])
        groups.append(GroupRollout(row, prompt, completions, [""] * len(completions)))
    return groups


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.training_flops", description=__doc__)
    parser.add_argument("--reps", type=int, default=5, help="timed training passes")
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top ops")
    args = parser.parse_args(argv)
    from openrft import dense
    from openrft.inference.registry import load_base_model
    from openrft.settings import Settings
    from openrft.training.config import TrainConfig
    from openrft.training.policy import Policy
    from openrft.training.update import Learner

    torch.manual_seed(ref.SEED)
    base, tokenizer = load_base_model(ref.MODEL, cache_dir=Settings().resolved_model_cache_dir)
    config = TrainConfig(
        batch_size=ref.PROMPTS_PER_STEP,
        group_size=ref.GROUP_SIZE,
        learning_rate=LEARNING.learning_rate,
        max_completion_tokens=LEARNING.max_new_tokens,
        beta=ref.BETA,
        lora_rank=ref.LORA_RANK,
        lora_alpha=ref.LORA_ALPHA,
    )
    policy = Policy(base, tokenizer, lora_rank=ref.LORA_RANK, lora_alpha=ref.LORA_ALPHA, beta=0.0)
    learner = Learner(policy, config, total_steps=args.reps + 3)
    groups = learning_batch(tokenizer)
    advantages = torch.randn(sum(len(g.completions) for g in groups))
    # Matmuls torch's counter does not know: the fused LoRA layers accumulate into the base
    # matmul's output in place (addmm_); openrft.dense runs large ones on oneDNN; attention
    # long enough for the flash kernel runs its CPU variant, which the counter maps only for GPUs
    # (training.attention computes short sequences with bmm, which it counts).
    uncounted: dict[Any, Any] = {
        torch.ops.aten.addmm_: _addmm_flop,
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _attention_flop,
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _attention_grad_flop,
    }
    if dense.ONEDNN:
        uncounted[torch.ops.mkldnn._linear_pointwise] = _linear_flop
    # A warm-up pass first: openrft.dense times both libraries on a shape's first call, and
    # those trial products are not the pass's work.
    learner.step(groups, advantages)
    with FlopCounterMode(display=False, custom_mapping=uncounted) as counter:
        learner.step(groups, advantages)
    flops = counter.get_total_flops()
    peaks, times = [], []
    for _ in range(args.reps):
        peaks.append(matmul_peak_flops())
        times.append(learner.step(groups, advantages)["timing/forward_backward_s"])
    seconds = statistics.median(times)
    fractions = [flops / t / peak for t, peak in zip(times, peaks, strict=True)]
    tokens = sum(g.completion_tokens + len(g.prompt_ids) for g in groups)
    result = {
        "benchmark": "training_flops",
        "torch_threads": torch.get_num_threads(),
        "tokens_per_pass": tokens,
        "counted_gflop_per_pass": round(flops / 1e9, 1),
        "forward_backward_s": [round(t, 2) for t in times],
        "achieved_gflop_per_s": round(flops / seconds / 1e9, 1),
        "fp32_matmul_peak_gflop_per_s": [round(peak / 1e9, 1) for peak in peaks],
        "fraction_of_peak": round(statistics.median(fractions), 3),
        "fraction_of_best_peak": round(flops / seconds / max(peaks), 3),
    }
    if args.profile:
        print(_profile(learner, groups, advantages))
    write_result(RESULTS_PATH, result)
    return result


def _profile(learner: Any, groups: list[Any], advantages: torch.Tensor) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        learner.step(groups, advantages)
    return str(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main(sys.argv[1:])
