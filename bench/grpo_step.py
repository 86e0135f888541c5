"""openrft's GRPO step on the reference configuration (issue 7): step time, split, RSS, rewards.

Run alone: ``python -m bench.grpo_step [--steps N]``; ``make bench`` runs it side by side with TRL
through bench/grpo_vs_trl.py. Like bench/trl_step.py, the measurement runs in a child process so its
peak RSS is openrft's alone, and the inputs come from bench/reference_config.py. The step is the
trainer's own code path (``openrft.training``): rollout with the generation engine, grading,
advantages, the micro-batched GRPO update. Old log-probs are never recomputed (``num_iterations ==
1``), so their time is 0 by construction.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import reference_config as ref
from bench.child import REPO_ROOT, run_measurement

RESULTS_PATH = REPO_ROOT / "bench" / "results" / "grpo_step.json"
SPLIT_KEYS = ("generate_s", "grade_s", "old_logprobs_s", "forward_backward_s", "optimizer_s")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.grpo_step", description=__doc__)
    parser.add_argument("--steps", type=int, default=ref.DEFAULT_STEPS, help="optimizer steps")
    parser.add_argument("--model", default=ref.MODEL, help="override only for smoke runs")
    parser.add_argument("--max-new-tokens", type=int, default=ref.MAX_NEW_TOKENS)
    parser.add_argument("--dtype", default=ref.DTYPE, choices=["float32", "bfloat16"])
    parser.add_argument(
        "--activation-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="recompute layer activations in backward (less memory, more time)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_PATH, help="JSON result path")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure openrft in a child process; print and write the JSON result; return it."""
    options = _parse(argv)
    args = ["--steps", str(options.steps), "--model", options.model]
    args += ["--max-new-tokens", str(options.max_new_tokens), "--dtype", options.dtype]
    if options.activation_checkpointing:
        args.append("--activation-checkpointing")
    result = run_measurement("bench.grpo_step", args, options.out)
    print(json.dumps(summary(result), indent=2))
    return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a result (what ``measure`` prints)."""
    keys = ("median_step_s", "step_times_s", "median_split_s", "peak_rss_mib", "reward_means")
    return {"benchmark": "openrft_grpo_step", **{key: result[key] for key in keys}}


class _RewardGrader:
    """The reference reward (the demo's GSM8K scoring), in process like TRL's reward function."""

    async def grade(self, requests: Any) -> list[Any]:
        from openrft.graders import GradeResult

        return [
            GradeResult(reward=ref.reward(r.output_text, r.item["ground_truth"])) for r in requests
        ]


def run_worker(options: argparse.Namespace) -> dict[str, Any]:
    """Build the trainer's components on the reference inputs and time ``options.steps`` steps."""
    import asyncio

    import torch

    from openrft.inference.engine import GenerationEngine
    from openrft.inference.registry import load_base_model
    from openrft.settings import Settings
    from openrft.training.config import TrainConfig
    from openrft.training.policy import Policy
    from openrft.training.rollout import EngineSampler, TokenizerCodec

    config = TrainConfig(
        batch_size=ref.PROMPTS_PER_STEP,
        group_size=ref.GROUP_SIZE,
        learning_rate=ref.LEARNING_RATE,
        max_completion_tokens=options.max_new_tokens,
        temperature=ref.TEMPERATURE,
        beta=ref.BETA,
        lora_rank=ref.LORA_RANK,
        lora_alpha=ref.LORA_ALPHA,
        dtype=options.dtype,
        seed=ref.SEED,
        activation_checkpointing=options.activation_checkpointing,
    )
    torch.manual_seed(ref.SEED)
    base, tokenizer = load_base_model(
        options.model, cache_dir=Settings().resolved_model_cache_dir, dtype=config.torch_dtype
    )
    policy = Policy(
        base, tokenizer, lora_rank=config.lora_rank, lora_alpha=config.lora_alpha, beta=config.beta
    )
    sampler = EngineSampler(GenerationEngine(policy.model, tokenizer))
    steps = asyncio.run(_train(options.steps, config, policy, sampler, TokenizerCodec(tokenizer)))
    return _result(options, steps, torch.get_num_threads())


async def _train(
    n_steps: int, config: Any, policy: Any, sampler: Any, codec: Any
) -> list[dict[str, float]]:
    from openrft.rl import compute_advantages
    from openrft.training.grading import grade_groups
    from openrft.training.rollout import SamplingConfig, rollout
    from openrft.training.update import Learner

    learner = Learner(policy, config, total_steps=n_steps)
    rows = ref.reference_rows(n_steps)
    grader = _RewardGrader()
    measured = []
    for step in range(n_steps):
        batch = rows[step * ref.PROMPTS_PER_STEP : (step + 1) * ref.PROMPTS_PER_STEP]
        prompts = [codec.encode_prompt(row["messages"]) for row in batch]
        sampling = SamplingConfig(
            config.max_completion_tokens,
            config.temperature,
            config.top_p,
            seed=config.seed * 1_000_003 + step + 1,
        )
        start = time.perf_counter()
        groups = rollout(sampler, codec, batch, prompts, sampling, config.group_size)
        generated = time.perf_counter()
        rss_after_generate = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        graded = await grade_groups(grader, groups, tag=f"step{step}")
        graded_at = time.perf_counter()
        advantages, adv = compute_advantages(graded.rewards, config.group_size, "group")
        metrics = learner.step(groups, advantages)
        measured.append(
            {
                "step_s": time.perf_counter() - start,
                "generate_s": generated - start,
                "grade_s": graded_at - generated,
                "old_logprobs_s": 0.0,
                "forward_backward_s": metrics["timing/forward_backward_s"],
                "optimizer_s": metrics["timing/optimizer_s"],
                "reward_mean": adv["reward_mean"],
                "completion_tokens": float(sum(g.completion_tokens for g in groups)),
                "logp_gap_mean": metrics["sampling/logp_gap_mean"],
                "trained_fraction": metrics["trained_fraction"],
                "peak_rss_after_generate_mib": rss_after_generate,
            }
        )
        print(
            json.dumps({"step": step + 1, **{k: round(v, 3) for k, v in measured[-1].items()}}),
            flush=True,
        )
    return measured


def _result(
    options: argparse.Namespace, steps: list[dict[str, float]], threads: int
) -> dict[str, Any]:
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    step_times = [s["step_s"] for s in steps]
    return {
        "benchmark": "openrft_grpo_step",
        "config": {
            **ref.describe(),
            "model": options.model,
            "dtype": options.dtype,
            "activation_checkpointing": options.activation_checkpointing,
            "max_new_tokens": options.max_new_tokens,
            "torch_threads": threads,
        },
        "steps": len(steps),
        "step_times_s": [round(t, 2) for t in step_times],
        "median_step_s": round(statistics.median(step_times), 2),
        "median_split_s": {k: round(statistics.median(s[k] for s in steps), 2) for k in SPLIT_KEYS},
        "rollout_tokens_per_s": [round(s["completion_tokens"] / s["generate_s"], 1) for s in steps],
        "peak_rss_mib": round(peak_kib / 1024, 1),
        # Where the peak comes from: generation alone vs generation + training.
        "peak_rss_after_generate_mib": [round(s["peak_rss_after_generate_mib"], 1) for s in steps],
        "reward_means": [round(s["reward_mean"], 4) for s in steps],
        "logp_gap_means": [round(s["logp_gap_mean"], 5) for s in steps],
        "trained_fractions": [round(s["trained_fraction"], 3) for s in steps],
    }


if __name__ == "__main__":
    cli_options = _parse(None)
    if cli_options.worker is None:
        measure(sys.argv[1:])
    else:
        cli_options.worker.write_text(json.dumps(run_worker(cli_options)))
