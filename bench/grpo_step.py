"""openrft's GRPO step on a bench workload (bench/workloads.py): step time, split, RSS, rewards.

Run alone: ``python -m bench.grpo_step [--workload learning|reference] [--steps N] [--contended]``;
``make bench`` runs it side by side with TRL through bench/grpo_vs_trl.py. Like bench/trl_step.py,
the measurement runs in a child process so its peak RSS is openrft's alone. The step is the
trainer's own code path (``openrft.training``): rollout with the generation engine, grading,
advantages, the micro-batched GRPO update; a workload with validation prompts is then evaluated
(greedy, by ``openrft.training.evaluation``) before the first step and after each, timed apart
from the step. Old log-probs are never recomputed (``num_iterations == 1``).
``--contended`` keeps one core busy with another process for the whole measurement.
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
from bench.child import REPO_ROOT, busy_core, run_measurement
from bench.workloads import WORKLOADS, Workload
from openrft.domain.hyperparameters import trainer_default
from openrft.domain.hyperparameters.schema import ROLLOUT_DTYPES

SPLIT_KEYS = ("generate_s", "grade_s", "forward_backward_s", "optimizer_s", "evaluate_s")


def results_path(workload: str, contended: bool = False, seed: int = ref.SEED) -> Path:
    name = f"grpo_step_{workload}{'_contended' if contended else ''}{ref.seed_suffix(seed)}.json"
    return REPO_ROOT / "bench" / "results" / name


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.grpo_step", description=__doc__)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="learning")
    parser.add_argument("--steps", type=int, help="optimizer steps [the workload's default]")
    parser.add_argument("--seed", type=int, default=ref.SEED, help="LoRA init and sampling")
    parser.add_argument("--model", default=ref.MODEL, help="override only for smoke runs")
    parser.add_argument("--max-new-tokens", type=int, help="[the workload's]; for smoke runs")
    parser.add_argument("--dtype", default=ref.DTYPE, choices=["float32", "bfloat16"])
    parser.add_argument(
        "--rollout-dtype",
        default=trainer_default("rollout_dtype"),
        choices=ROLLOUT_DTYPES,
        help="the rollout_dtype hyperparameter [its default, as a job gets it]",
    )
    parser.add_argument(
        "--activation-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="recompute layer activations in backward (less memory, more time)",
    )
    parser.add_argument(
        "--contended", action="store_true", help="another process keeps one core busy meanwhile"
    )
    parser.add_argument("--out", type=Path, help="JSON result path [bench/results/...]")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    options.steps = options.steps or WORKLOADS[options.workload].default_steps
    options.out = options.out or results_path(options.workload, options.contended, options.seed)
    options.max_new_tokens = options.max_new_tokens or WORKLOADS[options.workload].max_new_tokens
    return options


def measure(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure openrft in a child process; print and write the JSON result; return it."""
    options = _parse(argv)
    args = ["--workload", options.workload, "--steps", str(options.steps)]
    args += ["--seed", str(options.seed), "--model", options.model, "--dtype", options.dtype]
    args += ["--rollout-dtype", options.rollout_dtype]
    args += ["--max-new-tokens", str(options.max_new_tokens)]
    if options.activation_checkpointing:
        args.append("--activation-checkpointing")
    if options.contended:
        with busy_core():
            result = run_measurement("bench.grpo_step", [*args, "--contended"], options.out)
    else:
        result = run_measurement("bench.grpo_step", args, options.out)
    print(json.dumps(summary(result), indent=2))
    return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a result (what ``measure`` prints)."""
    keys = ("median_step_s", "step_times_s", "median_split_s", "peak_rss_mib", "reward_means")
    return {"benchmark": "openrft_grpo_step", **{key: result[key] for key in keys}}


class _RewardGrader:
    """The workload's reward, in process like TRL's reward function."""

    def __init__(self, workload: Workload) -> None:
        self.workload = workload

    async def grade(self, requests: Any) -> list[Any]:
        from openrft.graders import GradeResult

        reward = self.workload.reward
        return [GradeResult(reward=reward(r.output_text, r.item)) for r in requests]


def run_worker(options: argparse.Namespace) -> dict[str, Any]:
    """Build the trainer's components on the workload and time ``options.steps`` steps."""
    import asyncio

    import torch

    from openrft.settings import Settings
    from openrft.threads import in_compute
    from openrft.training.config import TrainConfig
    from openrft.training.policy import load_policy
    from openrft.training.rollout import EngineSampler, TokenizerCodec

    workload = WORKLOADS[options.workload]
    config = TrainConfig(
        batch_size=ref.PROMPTS_PER_STEP,
        group_size=ref.GROUP_SIZE,
        learning_rate=workload.learning_rate,
        max_completion_tokens=options.max_new_tokens,
        temperature=ref.TEMPERATURE,
        beta=ref.BETA,
        lora_rank=ref.LORA_RANK,
        lora_alpha=ref.LORA_ALPHA,
        dtype=options.dtype,
        rollout_dtype=options.rollout_dtype,
        seed=options.seed,
        activation_checkpointing=options.activation_checkpointing,
    )

    def load() -> Any:
        torch.manual_seed(options.seed)
        cache_dir = Settings().resolved_model_cache_dir
        return load_policy(options.model, config, cache_dir, beta=config.beta)

    async def train() -> tuple[list[dict[str, float]], list[float], Any]:
        # As in a job, torch runs on openrft's one compute thread (openrft.threads).
        policy = await in_compute(load)
        sampler = EngineSampler.for_job(policy.model, policy.tokenizer, config)
        codec = TokenizerCodec(policy.tokenizer)
        trainer = _Trainer(workload, options.steps, config, policy, sampler, codec)
        return (*await trainer.run(), sampler.engine.matmul_dtype)

    steps, valid, sampler_dtype = asyncio.run(train())
    return _result(options, workload, steps, valid, torch.get_num_threads(), sampler_dtype)


class _Trainer:
    """The bench's training loop: the controller's roles without its database and events."""

    def __init__(
        self, workload: Workload, n_steps: int, config: Any, policy: Any, sampler: Any, codec: Any
    ) -> None:
        from openrft.training.update import Learner

        self.workload, self.n_steps, self.config = workload, n_steps, config
        self.sampler, self.codec = sampler, codec
        self.learner = Learner(policy, config, total_steps=n_steps)
        self.grader = _RewardGrader(workload)
        valid = workload.valid_rows()
        self.valid_items = [(row, codec.encode_prompt(row["messages"])) for row in valid]

    async def run(self) -> tuple[list[dict[str, float]], list[float]]:
        """Per-step measurements, and the validation rewards (before step 1, after each)."""
        rows = self.workload.train_rows(self.n_steps)
        valid = [await self._validate()] if self.valid_items else []
        measured = []
        for step in range(self.n_steps):
            batch = rows[step * ref.PROMPTS_PER_STEP : (step + 1) * ref.PROMPTS_PER_STEP]
            measured.append(await self._step(step, batch))
            if self.valid_items:
                started = time.perf_counter()
                valid.append(await self._validate())
                measured[-1]["evaluate_s"] = time.perf_counter() - started
                measured[-1]["valid_reward"] = valid[-1]
            line = {"step": step + 1, **{k: round(v, 3) for k, v in measured[-1].items()}}
            print(json.dumps(line), flush=True)
        return measured, valid

    async def _step(self, step: int, batch: list[dict[str, Any]]) -> dict[str, float]:
        from openrft.rl import compute_advantages
        from openrft.threads import in_compute
        from openrft.training.grading import grade_groups
        from openrft.training.rollout import SamplingConfig, SingleTurn

        config = self.config
        prompts = [self.codec.encode_prompt(row["messages"]) for row in batch]
        sampling = SamplingConfig(
            config.max_completion_tokens,
            config.temperature,
            config.top_p,
            seed=config.seed * 1_000_003 + step + 1,
        )
        start = time.perf_counter()
        rollouts = SingleTurn(self.sampler, self.codec)
        groups = await rollouts.run(batch, prompts, sampling, config.group_size)
        generated = time.perf_counter()
        graded = await grade_groups(self.grader, groups, tag=f"step{step}")
        graded_at = time.perf_counter()
        advantages, adv = compute_advantages(graded.rewards, config.group_size, "group")
        metrics = await in_compute(self.learner.step, groups, advantages)
        return {
            "step_s": time.perf_counter() - start,
            "generate_s": generated - start,
            "grade_s": graded_at - generated,
            "forward_backward_s": metrics["timing/forward_backward_s"],
            "optimizer_s": metrics["timing/optimizer_s"],
            "evaluate_s": 0.0,
            "reward_mean": adv["reward_mean"],
            "completion_tokens": float(sum(g.completion_tokens for g in groups)),
            "trained_fraction": metrics["trained_fraction"],
            "logp_gap_mean": metrics["sampling/logp_gap_mean"],
        }

    async def _validate(self) -> float:
        from openrft.training.evaluation import evaluate
        from openrft.training.rollout import SamplingConfig

        greedy = SamplingConfig(self.config.max_completion_tokens, 0.0, 1.0, seed=0)
        result = await evaluate(self.sampler, self.codec, self.grader, self.valid_items, greedy, 1)
        return float(result.reward_mean or 0.0)


def _result(
    options: argparse.Namespace,
    workload: Workload,
    steps: list[dict[str, float]],
    valid: list[float],
    threads: int,
    sampler_dtype: Any,
) -> dict[str, Any]:
    """``sampler_dtype``: the engine's matmul dtype when not the model's (``rollout_dtype``)."""
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    step_times = [s["step_s"] for s in steps]
    return {
        "benchmark": "openrft_grpo_step",
        "config": {
            **workload.describe(),
            "seed": options.seed,
            "model": options.model,
            "dtype": options.dtype,
            "rollout_dtype": options.rollout_dtype,
            "rollout_matmul_dtype": str(sampler_dtype or options.dtype).removeprefix("torch."),
            "max_new_tokens": options.max_new_tokens,
            "activation_checkpointing": options.activation_checkpointing,
            "contended": options.contended,
            "torch_threads": threads,
        },
        "steps": len(steps),
        "step_times_s": [round(t, 2) for t in step_times],
        "median_step_s": round(statistics.median(step_times), 2),
        "median_split_s": {k: round(statistics.median(s[k] for s in steps), 2) for k in SPLIT_KEYS},
        "rollout_tokens_per_s": [round(s["completion_tokens"] / s["generate_s"], 1) for s in steps],
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "reward_means": [round(s["reward_mean"], 4) for s in steps],
        "valid_rewards": [round(v, 4) for v in valid],
        "trained_fractions": [round(s["trained_fraction"], 3) for s in steps],
        "logp_gap_means": [round(s["logp_gap_mean"], 5) for s in steps],
    }


if __name__ == "__main__":
    cli_options = _parse(None)
    if cli_options.worker is None:
        measure(sys.argv[1:])
    else:
        cli_options.worker.write_text(json.dumps(run_worker(cli_options)))
