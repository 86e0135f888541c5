"""TRL's ``GRPOTrainer`` on the reference GRPO step (issue 7): median step time, peak RSS, rewards.

Run alone: ``python -m bench.trl_step [--steps N]``; ``make bench`` runs it side by side with
openrft through bench/grpo_vs_trl.py. The measurement runs in a child process so that its peak RSS
is TRL's alone (not the bench runner's, nor another benchmark's). Inputs come from
bench/reference_config.py, the same as bench/grpo_step.py (openrft's side).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from bench import reference_config as ref
from bench.child import REPO_ROOT, run_measurement

RESULTS_PATH = REPO_ROOT / "bench" / "results" / "trl_step.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.trl_step", description=__doc__)
    parser.add_argument("--steps", type=int, default=ref.DEFAULT_STEPS, help="optimizer steps")
    parser.add_argument("--micro-batch", type=int, default=8, help="completions per backward")
    parser.add_argument("--model", default=ref.MODEL, help="override only for smoke runs")
    parser.add_argument("--max-new-tokens", type=int, default=ref.MAX_NEW_TOKENS)
    parser.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="TRL's default is on (recompute activations: less memory, more time)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_PATH, help="JSON result path")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure TRL in a child process; print and write the JSON result; return it."""
    options = _parse(argv)
    args = ["--steps", str(options.steps), "--micro-batch", str(options.micro_batch)]
    args += ["--model", options.model, "--max-new-tokens", str(options.max_new_tokens)]
    if not options.gradient_checkpointing:
        args.append("--no-gradient-checkpointing")
    result = run_measurement("bench.trl_step", args, options.out)
    print(json.dumps(summary(result), indent=2))
    return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a result (what ``main`` prints)."""
    keys = ("median_step_s", "step_times_s", "peak_rss_mib", "reward_means", "steps")
    return {"benchmark": "trl_grpo_step", **{key: result[key] for key in keys}}


def gsm8k_reward_func(completions: list[Any], ground_truth: list[str], **_: Any) -> list[float]:
    """TRL reward callable; completions are strings or conversational message lists."""
    texts = [c[-1]["content"] if isinstance(c, list) else str(c) for c in completions]
    return [ref.reward(text, truth) for text, truth in zip(texts, ground_truth, strict=True)]


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step (generation included) and TRL's per-step logs."""

    def __init__(self) -> None:
        self.step_times_s: list[float] = []
        self.rewards: list[float] = []
        self.logs: list[dict[str, float]] = []
        self._last = time.perf_counter()

    def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self._last = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        now = time.perf_counter()
        self.step_times_s.append(now - self._last)
        self._last = now

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        numeric = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float)}
        if "reward" in numeric:
            self.rewards.append(round(numeric["reward"], 4))
            self.logs.append(numeric)


def grpo_config(options: argparse.Namespace, output_dir: str) -> Any:
    """TRL's ``GRPOConfig`` for the reference step; unlisted fields keep TRL's defaults."""
    import torch
    from trl import GRPOConfig

    completions_per_step = ref.PROMPTS_PER_STEP * ref.GROUP_SIZE
    return GRPOConfig(
        output_dir=output_dir,
        num_generations=ref.GROUP_SIZE,
        per_device_train_batch_size=options.micro_batch,
        gradient_accumulation_steps=completions_per_step // options.micro_batch,
        max_completion_length=options.max_new_tokens,
        beta=ref.BETA,
        learning_rate=ref.LEARNING_RATE,
        temperature=ref.TEMPERATURE,
        max_steps=options.steps,
        seed=ref.SEED,
        use_cpu=True,
        bf16=False,
        model_init_kwargs={"dtype": torch.float32},
        shuffle_dataset=False,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        gradient_checkpointing=options.gradient_checkpointing,
    )


def run_worker(options: argparse.Namespace) -> dict[str, Any]:
    """Build TRL's trainer on the reference inputs, train ``options.steps`` steps, measure."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOTrainer

    from openrft.inference.registry import canonical_base_name, resolve_model_dir
    from openrft.settings import Settings

    torch.manual_seed(ref.SEED)
    rows = ref.reference_rows(options.steps)
    dataset = Dataset.from_list(
        [{"prompt": row["messages"], "ground_truth": row["ground_truth"]} for row in rows]
    )
    model_dir = resolve_model_dir(
        canonical_base_name(options.model), cache_dir=Settings().resolved_model_cache_dir
    )
    lora = LoraConfig(
        r=ref.LORA_RANK,
        lora_alpha=ref.LORA_ALPHA,
        target_modules=ref.LORA_TARGET_MODULES,
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = GRPOTrainer(
            model=model_dir,
            reward_funcs=gsm8k_reward_func,
            args=grpo_config(options, output_dir),
            train_dataset=dataset,
            peft_config=lora,
            callbacks=[timer],
        )
        trainer.train()
    return _result(options, timer, torch.get_num_threads())


def _result(options: argparse.Namespace, timer: StepTimer, threads: int) -> dict[str, Any]:
    import trl

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "benchmark": "trl_grpo_step",
        "trl_version": trl.__version__,
        "config": {
            **ref.describe(),
            "model": options.model,
            "max_new_tokens": options.max_new_tokens,
            "micro_batch": options.micro_batch,
            "gradient_checkpointing": options.gradient_checkpointing,
            "torch_threads": threads,
        },
        "steps": len(timer.step_times_s),
        "step_times_s": [round(t, 2) for t in timer.step_times_s],
        "median_step_s": round(statistics.median(timer.step_times_s), 2),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "reward_means": timer.rewards,
        "logs": timer.logs,
    }


if __name__ == "__main__":
    cli_options = _parse(None)
    if cli_options.worker is None:
        measure(sys.argv[1:])
    else:
        measured = run_worker(cli_options)
        cli_options.worker.write_text(json.dumps(measured))
