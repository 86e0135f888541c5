"""Every hyperparameter openrft accepts, one entry each: the only place defaults and bounds live.

Request validation, the job's echo, ``TrainConfig``'s defaults and the README table all read
``HYPERPARAMETERS``. The allowed ``loss_type`` and ``scale_rewards`` values are the names of
``openrft.rl``'s losses and advantage scalings (a unit test ties them together).

To add a hyperparameter, add one ``Hyperparameter`` entry below (name, kind with bounds, default,
help; ``bedrock=`` for its Bedrock name; ``trains=False`` unless the trainer reads it). If the
trainer reads it, also give ``TrainConfig`` a typed field of that name whose default is
``trainer_default("<name>")``; if it is a data-dependent "auto", add its rule to
``resolve._resolve_auto``. Then regenerate the README table with
``python scripts/hyperparameter_table.py --write``.

``method.reinforcement`` accepts every entry. ``method.supervised`` and ``method.dpo`` accept
the entries named in ``TUNING_FIELDS`` (the same objects, so one default and one bound each);
DPO's ``beta`` is its own entry (``DPO_BETA``): there it is the DPO loss's temperature, not a
KL coefficient. ``METHOD_HYPERPARAMETERS[method]`` is the schema of one method.
"""

from __future__ import annotations

from typing import Any

from openrft.domain.hyperparameters.spec import (
    Boolean,
    Choice,
    Hyperparameter,
    Integer,
    Number,
    Object,
)

LORA_BASE_LR = 1e-4
FULL_BASE_LR = 1e-6
EPSILON = 0.2
LOSS_TYPES = ("dapo", "grpo", "dr_grpo", "bnpo")
SCALE_REWARDS = ("group", "batch", "none")
ROLLOUT_ENGINES = ("auto", "openrft", "vllm")
ROLLOUT_DTYPES = ("auto", "float32", "bfloat16")
ECHOED_UNUSED = "openrft echoes the value but does not use it."

EARLY_STOPPING_FIELDS = (
    Hyperparameter("patience", Integer(1), 3, "evaluations without improvement before stopping"),
    Hyperparameter("min_delta", Number(0.0), 0.01, "smallest rise that counts as improvement"),
    Hyperparameter(
        "target_reward", Number(-1e9, null=True), None, "stop once validation reaches it"
    ),
)

RESOURCE_FIELDS = (
    Hyperparameter("num_cpus", Number(0.0, null=True), None, "CPUs; null = OPENRFT_RAY_NUM_CPUS"),
    Hyperparameter("num_gpus", Number(0.0, null=True), None, "GPUs; null = OPENRFT_RAY_NUM_GPUS"),
    Hyperparameter(
        "memory", Integer(0, null=True), None, "bytes of RAM; null = OPENRFT_RAY_MEMORY_BYTES"
    ),
)

_OPENAI = (
    Hyperparameter(
        "batch_size",
        Integer(1, 256, auto=True),
        "auto",
        'prompts per step; "auto": min(8, training rows)',
        openai=True,
        bedrock="batchSize",
        auto=8,
    ),
    Hyperparameter(
        "learning_rate_multiplier",
        Number(0.0, lo_open=True, auto=True),
        "auto",
        f"scales the base learning rate ({LORA_BASE_LR:g} for LoRA, {FULL_BASE_LR:g} for a full "
        'fine-tune); "auto": 1',
        openai=True,
        auto=1.0,
        trains=False,
    ),
    Hyperparameter(
        "n_epochs",
        Integer(1, 50, auto=True),
        "auto",
        'passes over the training file; "auto": 1',
        openai=True,
        bedrock="epochCount",
        auto=1,
    ),
    Hyperparameter(
        "eval_interval",
        Integer(1, auto=True),
        "auto",
        'steps between validation runs; "auto": a quarter epoch, 1 to 10 steps',
        openai=True,
        bedrock="evalInterval",
        auto=10,
    ),
    Hyperparameter(
        "eval_samples",
        Integer(1, 64, auto=True),
        "auto",
        'samples per validation prompt; "auto": 1',
        openai=True,
        auto=1,
    ),
    Hyperparameter(
        "compute_multiplier",
        Number(0.00001, 10.0, lo_open=True, auto=True),
        "auto",
        "OpenAI's compute budget knob; no effect here",
        openai=True,
        auto=1.0,
        trains=False,
        no_effect="the compute per step is set by batch_size, group_size and "
        f"max_completion_tokens; {ECHOED_UNUSED}",
    ),
    Hyperparameter(
        "reasoning_effort",
        Choice(("auto", "default", "low", "medium", "high")),
        "auto",
        "reasoning effort of the tuned model; no effect here",
        openai=True,
        bedrock="reasoningEffort",
        auto="default",
        trains=False,
        no_effect="rollouts are sampled with temperature and top_p only, with no "
        f"reasoning-effort setting; {ECHOED_UNUSED}",
    ),
)

_EXTENSIONS = (
    Hyperparameter(
        "group_size",
        Integer(2, 256),
        8,
        "samples per prompt (GRPO group)",
        bedrock="trainingSamplePerPrompt",
    ),
    Hyperparameter(
        "max_completion_tokens",
        Integer(1, 32768),
        256,
        "tokens generated per sample",
        bedrock="inferenceMaxTokens",
    ),
    Hyperparameter(
        "max_prompt_tokens",
        Integer(1, 131072),
        1024,
        "rows with longer prompts are skipped, with a warning event",
        bedrock="maxPromptLength",
    ),
    Hyperparameter(
        "learning_rate",
        Number(0.0, 1.0, lo_open=True, auto=True, null=True),
        None,
        "absolute learning rate; overrides `learning_rate_multiplier`",
        bedrock="learningRate",
        auto=LORA_BASE_LR,
        shown_default="(from the multiplier)",
    ),
    Hyperparameter(
        "temperature", Number(0.0, 10.0, lo_open=True), 1.0, "sampling temperature for rollouts"
    ),
    Hyperparameter("top_p", Number(0.0, 1.0, lo_open=True), 1.0, "nucleus sampling for rollouts"),
    Hyperparameter(
        "beta", Number(0.0), 0.0, "KL coefficient (k3 estimator); 0 = no reference model"
    ),
    Hyperparameter(
        "epsilon", Number(0.0, 1.0, lo_open=True), EPSILON, "lower clip range of the ratio"
    ),
    Hyperparameter(
        "epsilon_high",
        Number(0.0, 10.0, lo_open=True, null=True),
        None,
        "upper clip range (DAPO's clip-higher)",
        auto=EPSILON,
        shown_default="= `epsilon`",
    ),
    Hyperparameter("loss_type", Choice(LOSS_TYPES), "dapo", "how token losses are averaged"),
    Hyperparameter("scale_rewards", Choice(SCALE_REWARDS), "group", "advantage normalisation"),
    Hyperparameter("num_iterations", Integer(1, 64), 1, "policy updates per batch of rollouts"),
    Hyperparameter("lora_rank", Integer(0, 1024), 16, "LoRA rank; 0 = full fine-tune"),
    Hyperparameter("lora_alpha", Number(0.0, lo_open=True), 32.0, "LoRA alpha"),
    Hyperparameter(
        "max_steps", Integer(1, null=True), None, "stop after this many steps; null = no limit"
    ),
    Hyperparameter(
        "early_stopping",
        Object(EARLY_STOPPING_FIELDS),
        None,
        "stop when the validation reward stops improving or reaches a target",
    ),
    Hyperparameter("dtype", Choice(("float32", "bfloat16")), "float32", "weights and compute"),
    Hyperparameter(
        "rollout_dtype",
        Choice(ROLLOUT_DTYPES),
        "float32",
        "the precision of openrft's engine's matmuls when it samples rollouts and evaluations "
        "of a float32 model: bfloat16 multiplies about twice as fast where the hardware has it "
        "natively (rollouts about a quarter faster end to end on a 2-core AMD EPYC); training "
        "stays in `dtype`, and truncated importance sampling corrects the sampler's log-prob "
        'gap (`sampling/logp_gap_mean` in the metrics); "auto": bfloat16 where the CPU '
        "(AVX512-BF16 or AMX) or the GPU (compute capability 8+) multiplies it natively, else "
        "`dtype`",
        auto="auto",
    ),
    Hyperparameter(
        "warmup_ratio",
        Number(0.0, 0.999),
        0.0,
        "fraction of steps with a linear LR warm-up; the LR then decays linearly to 0",
    ),
    Hyperparameter(
        "max_grad_norm", Number(0.0, lo_open=True, null=True), 1.0, "gradient clipping; null = off"
    ),
    Hyperparameter(
        "max_grader_error_rate",
        Number(0.0, 1.0),
        0.2,
        "a training step whose fraction of samples the grader could not grade (after retries) "
        "is above this pauses the job instead of training; errored samples never count as "
        "rewards; 1 = never pause",
    ),
    Hyperparameter(
        "select_checkpoint_by",
        Choice(("reward", "monitor")),
        "reward",
        "the validation reward that picks the best checkpoint (the fine-tuned model): the "
        "grader's, or `monitor_grader`'s (needs one)",
    ),
    Hyperparameter(
        "rollout_engine",
        Choice(ROLLOUT_ENGINES),
        "auto",
        "what generates rollouts and evaluations: openrft's own engine, or vLLM (LoRA jobs; "
        'the adapter alone is loaded into it after every optimizer step); "auto": the '
        "server's `--inference-engine`, which by default is vLLM when a GPU and vLLM are present",
        auto="auto",
    ),
    Hyperparameter(
        "max_turns",
        Integer(1, 64),
        4,
        "assistant turns per rollout when tools run (`method.reinforcement.tools`); each turn "
        "samples up to `max_completion_tokens`",
    ),
    Hyperparameter(
        "async_rollouts",
        Boolean(),
        False,
        "one-step off-policy: generate step k+1's rollouts (with the weights before step k's "
        "update) while step k trains; the trainer corrects for the stale sampler with truncated "
        "importance sampling (`sampling/is_ratio_mean`, `async/staleness` in the metrics). It "
        "pays where generation and training run on separate devices or workers; on a small CPU "
        "they compete for the same cores (see the README)",
    ),
)

_EXECUTION = (
    Hyperparameter(
        "rollout_workers",
        Integer(1, 64),
        1,
        "Ray actors that generate each step's prompts in parallel (each holds a copy of the "
        "base model; the LoRA adapter is shipped to them every step); more than 1 needs "
        "`serve --executor ray`",
        trains=False,
    ),
    Hyperparameter(
        "trainer_workers",
        Integer(1, 64),
        1,
        "Ray actors that share each step's update data-parallel (torch.distributed: gloo on "
        "CPU, NCCL on GPU; the same global batch and the same update as one worker); each "
        "holds a copy of the model; more than 1 needs `serve --executor ray`",
        trains=False,
    ),
    Hyperparameter(
        "reward_workers",
        Integer(1, 64),
        1,
        "Ray actors that grade each step's samples in parallel, each with its own instance "
        "of the grader (for slow Lambda, python or model graders); more than 1 needs "
        "`serve --executor ray`",
        trains=False,
    ),
    Hyperparameter(
        "resources",
        Object(RESOURCE_FIELDS),
        None,
        "what the job's actor reserves on a Ray cluster (`serve --executor ray`); each null "
        "field takes the server's setting; the local executor ignores it",
        trains=False,
    ),
)

HYPERPARAMETERS: dict[str, Hyperparameter] = {h.name: h for h in _OPENAI + _EXTENSIONS + _EXECUTION}
BEDROCK_ALIASES: dict[str, str] = {
    h.bedrock: h.name for h in HYPERPARAMETERS.values() if h.bedrock is not None
}


# What supervised and DPO jobs accept: OpenAI's three fields plus the optimiser and LoRA knobs.
TUNING_FIELDS = (
    "batch_size",
    "learning_rate_multiplier",
    "n_epochs",
    "eval_interval",
    "learning_rate",
    "lora_rank",
    "lora_alpha",
    "max_steps",
    "dtype",
    "warmup_ratio",
    "max_grad_norm",
    "resources",
)
DPO_BETA = Hyperparameter(
    "beta",
    Number(0.0, 2.0, lo_open=True, auto=True),
    "auto",
    "DPO only: the temperature of the preference loss; higher keeps the model closer to the "
    'reference model; "auto": 0.1 (TRL\'s default)',
    openai=True,
    auto=0.1,
)
_TUNING = {name: HYPERPARAMETERS[name] for name in TUNING_FIELDS}
METHOD_HYPERPARAMETERS: dict[str, dict[str, Hyperparameter]] = {
    "supervised": _TUNING,
    "dpo": {**_TUNING, "beta": DPO_BETA},
    "reinforcement": HYPERPARAMETERS,
}


def trainer_default(name: str) -> Any:
    """The value the trainer uses for ``name`` when built without a request."""
    return HYPERPARAMETERS[name].trainer_default
