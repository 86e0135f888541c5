"""TRL's ``GRPOTrainer`` on a bench workload (bench/workloads.py): step time, split, RSS, rewards.

Run alone: ``python -m bench.trl_step [--workload learning|reference] [--steps N]``; ``make bench``
runs it side by side with openrft through bench/grpo_vs_trl.py. The measurement runs in a child
process so that its peak RSS is TRL's alone. The split is timed around TRL's own methods
(``_generate``, ``_calculate_rewards``) and the Trainer's optimizer-step callbacks; forward-backward
is the rest of the step. A workload with validation prompts is evaluated before the first step and
after each with greedy ``generate`` on the same prompt ids as openrft's side, timed apart from
the step.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from bench import reference_config as ref
from bench.child import LIBRARY_DEFAULTS, REPO_ROOT, run_measurement
from bench.workloads import WORKLOADS, Workload

SPLIT_KEYS = ("generate_s", "grade_s", "forward_backward_s", "optimizer_s", "evaluate_s")


def results_path(workload: str, seed: int = ref.SEED) -> Path:
    return REPO_ROOT / "bench" / "results" / f"trl_step_{workload}{ref.seed_suffix(seed)}.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.trl_step", description=__doc__)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="learning")
    parser.add_argument("--steps", type=int, help="optimizer steps [the workload's default]")
    parser.add_argument("--seed", type=int, default=ref.SEED, help="LoRA init and sampling")
    parser.add_argument("--micro-batch", type=int, default=8, help="completions per backward")
    parser.add_argument("--model", default=ref.MODEL, help="override only for smoke runs")
    parser.add_argument("--max-new-tokens", type=int, help="[the workload's]; for smoke runs")
    parser.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="TRL's default is on (recompute activations: less memory, more time)",
    )
    parser.add_argument("--out", type=Path, help="JSON result path [bench/results/...]")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    options.steps = options.steps or WORKLOADS[options.workload].default_steps
    options.out = options.out or results_path(options.workload, options.seed)
    options.max_new_tokens = options.max_new_tokens or WORKLOADS[options.workload].max_new_tokens
    return options


def measure(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure TRL in a child process; print and write the JSON result; return it."""
    options = _parse(argv)
    args = ["--workload", options.workload, "--steps", str(options.steps)]
    args += ["--seed", str(options.seed), "--micro-batch", str(options.micro_batch)]
    args += ["--model", options.model]
    args += ["--max-new-tokens", str(options.max_new_tokens)]
    if not options.gradient_checkpointing:
        args.append("--no-gradient-checkpointing")
    result = run_measurement("bench.trl_step", args, options.out, env=LIBRARY_DEFAULTS)
    print(json.dumps(summary(result), indent=2))
    return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a result (what ``measure`` prints)."""
    keys = ("median_step_s", "step_times_s", "median_split_s", "peak_rss_mib", "reward_means")
    return {"benchmark": "trl_grpo_step", **{key: result[key] for key in keys}}


def reward_func(workload: Workload) -> Any:
    """TRL reward callable; completions are strings or conversational message lists."""

    def workload_reward(completions: list[Any], row: list[dict[str, Any]], **_: Any) -> list[float]:
        texts = [c[-1]["content"] if isinstance(c, list) else str(c) for c in completions]
        return [workload.reward(text, r) for text, r in zip(texts, row, strict=True)]

    return workload_reward


class StepTimer(TrainerCallback):
    """Each optimizer step's wall time and split, TRL's per-step logs, and the validation
    reward before the first step and after each (evaluation is not counted in the step)."""

    def __init__(self, evaluate: Any) -> None:
        self.evaluate = evaluate  # () -> mean validation reward, or None without validation
        self.steps: list[dict[str, float]] = []
        self.valid_rewards: list[float] = []
        self.rewards: list[float] = []
        self.logs: list[dict[str, float]] = []
        self.split: dict[str, float] = defaultdict(float)  # of the step in progress
        self._last = time.perf_counter()

    def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self._validate()
        self._last = time.perf_counter()

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self._optimizer_start = time.perf_counter()

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self.split["optimizer_s"] += time.perf_counter() - self._optimizer_start

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        step_s = time.perf_counter() - self._last
        rest = step_s - sum(self.split.values())
        self.steps.append({**self.split, "step_s": step_s, "forward_backward_s": rest})
        self.split.clear()
        started = time.perf_counter()
        if self._validate():
            self.steps[-1]["evaluate_s"] = time.perf_counter() - started
            self.steps[-1]["valid_reward"] = self.valid_rewards[-1]
        self._last = time.perf_counter()

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        numeric = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float)}
        if "reward" in numeric:
            self.rewards.append(round(numeric["reward"], 4))
            self.logs.append(numeric)

    def timed(self, key: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)``, its wall time added to this step's ``split[key]``."""
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.split[key] += time.perf_counter() - started

    def _validate(self) -> bool:
        reward = self.evaluate()
        if reward is not None:
            self.valid_rewards.append(reward)
        return reward is not None


def timed_trainer_class(timer: StepTimer) -> Any:
    """``GRPOTrainer`` whose generation and reward calls add their time to ``timer.split``."""
    from trl import GRPOTrainer

    class TimedGRPOTrainer(GRPOTrainer):  # type: ignore[misc]
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            return timer.timed("generate_s", super()._generate, *args, **kwargs)

        def _calculate_rewards(self, *args: Any, **kwargs: Any) -> Any:
            return timer.timed("grade_s", super()._calculate_rewards, *args, **kwargs)

    return TimedGRPOTrainer


def greedy_validation(workload: Workload, tokenizer: Any, max_new_tokens: int) -> Any:
    """``evaluate(model) -> mean reward`` of greedy replies to the workload's validation rows
    (None when it has none), prompts encoded as openrft encodes them."""
    import torch

    from openrft.inference.tokens import encode_chat

    rows = workload.valid_rows()
    prompts = [encode_chat(tokenizer, row["messages"]) for row in rows]
    width = max((len(p) for p in prompts), default=0)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])

    def evaluate(model: Any) -> float | None:
        if not rows:
            return None
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=pad,
            )
        model.train(was_training)
        texts = tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        return statistics.fmean(workload.reward(t, r) for t, r in zip(texts, rows, strict=True))

    return evaluate


def grpo_config(options: argparse.Namespace, workload: Workload, output_dir: str) -> Any:
    """TRL's ``GRPOConfig`` for the workload; unlisted fields keep TRL's defaults."""
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
        learning_rate=workload.learning_rate,
        temperature=ref.TEMPERATURE,
        max_steps=options.steps,
        seed=options.seed,
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
    """Build TRL's trainer on the workload, train ``options.steps`` steps, measure."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer

    from openrft.inference.registry import canonical_base_name, resolve_model_dir
    from openrft.settings import Settings

    workload = WORKLOADS[options.workload]
    torch.manual_seed(options.seed)
    rows = workload.train_rows(options.steps)
    dataset = Dataset.from_list([{"prompt": row["messages"], "row": row} for row in rows])
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
    validate = greedy_validation(
        workload, AutoTokenizer.from_pretrained(model_dir), options.max_new_tokens
    )
    trainer: Any = None
    timer = StepTimer(lambda: validate(trainer.model))
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = timed_trainer_class(timer)(
            model=model_dir,
            reward_funcs=reward_func(workload),
            args=grpo_config(options, workload, output_dir),
            train_dataset=dataset,
            peft_config=lora,
            callbacks=[timer],
        )
        trainer.train()
    return _result(options, workload, timer, torch.get_num_threads())


def _result(
    options: argparse.Namespace, workload: Workload, timer: StepTimer, threads: int
) -> dict[str, Any]:
    import trl

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    step_times = [s["step_s"] for s in timer.steps]
    split = {k: round(statistics.median(s.get(k, 0.0) for s in timer.steps), 2) for k in SPLIT_KEYS}
    return {
        "benchmark": "trl_grpo_step",
        "trl_version": trl.__version__,
        "config": {
            **workload.describe(),
            "seed": options.seed,
            "model": options.model,
            "max_new_tokens": options.max_new_tokens,
            "micro_batch": options.micro_batch,
            "gradient_checkpointing": options.gradient_checkpointing,
            "torch_threads": threads,
        },
        "steps": len(step_times),
        "step_times_s": [round(t, 2) for t in step_times],
        "median_step_s": round(statistics.median(step_times), 2),
        "median_split_s": split,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "reward_means": timer.rewards,
        "valid_rewards": [round(v, 4) for v in timer.valid_rewards],
        "logs": timer.logs,
    }


if __name__ == "__main__":
    cli_options = _parse(None)
    if cli_options.worker is None:
        measure(sys.argv[1:])
    else:
        measured = run_worker(cli_options)
        cli_options.worker.write_text(json.dumps(measured))
