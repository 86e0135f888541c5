"""``TrainConfig``: the resolved hyperparameters of one job, typed, as the trainer uses them.

Every field named after a hyperparameter takes its default from the schema
(``openrft.domain.hyperparameters``); a unit test checks the two stay the same set of names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from openrft.domain.hyperparameters import HYPERPARAMETERS, trainer_default
from openrft.domain.hyperparameters.schema import EARLY_STOPPING_FIELDS
from openrft.domain.hyperparameters.spec import Choice

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
_STOPPING = {f.name: f.default for f in EARLY_STOPPING_FIELDS}


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop when the validation reward has not improved by ``min_delta`` for ``patience``
    evaluations, or has reached ``target_reward`` (None: no target)."""

    patience: int = _STOPPING["patience"]
    min_delta: float = _STOPPING["min_delta"]
    target_reward: float | None = _STOPPING["target_reward"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs besides the model, data and grader.

    batch_size is prompts per step; each prompt is sampled ``group_size`` times. Token counts
    are in tokens of the model's tokenizer; learning_rate is absolute.
    """

    batch_size: int = trainer_default("batch_size")
    group_size: int = trainer_default("group_size")
    n_epochs: int = trainer_default("n_epochs")
    learning_rate: float = trainer_default("learning_rate")
    max_completion_tokens: int = trainer_default("max_completion_tokens")
    max_prompt_tokens: int = trainer_default("max_prompt_tokens")
    temperature: float = trainer_default("temperature")
    top_p: float = trainer_default("top_p")
    beta: float = trainer_default("beta")
    epsilon: float = trainer_default("epsilon")
    epsilon_high: float = trainer_default("epsilon_high")
    loss_type: str = trainer_default("loss_type")
    scale_rewards: str = trainer_default("scale_rewards")
    num_iterations: int = trainer_default("num_iterations")
    lora_rank: int = trainer_default("lora_rank")
    lora_alpha: float = trainer_default("lora_alpha")
    max_steps: int | None = trainer_default("max_steps")
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    dtype: str = trainer_default("dtype")
    eval_interval: int = trainer_default("eval_interval")
    eval_samples: int = trainer_default("eval_samples")
    warmup_ratio: float = trainer_default("warmup_ratio")
    max_grad_norm: float | None = trainer_default("max_grad_norm")
    max_grader_error_rate: float = trainer_default("max_grader_error_rate")
    select_checkpoint_by: str = trainer_default("select_checkpoint_by")
    max_turns: int = trainer_default("max_turns")
    rollout_engine: str = trainer_default("rollout_engine")
    rollout_dtype: str = trainer_default("rollout_dtype")
    async_rollouts: bool = trainer_default("async_rollouts")
    seed: int = 0
    # Not user-facing: truncated importance sampling cap (TRL's clip_max) and the token budget of
    # one training micro-batch (prompt + completions), which bounds activation memory.
    is_cap: float = 3.0
    micro_batch_tokens: int = 4096
    # Recompute the completion pass's layer activations in backward: far less memory per
    # trained token for about a third more update compute (TRL's gradient_checkpointing).
    activation_checkpointing: bool = False

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any], *, seed: int) -> TrainConfig:
        """Build from the job's resolved hyperparameters (no "auto" left).

        A key that is not a hyperparameter is an error; hyperparameters the trainer does not
        read (``trains=False`` in the schema, e.g. ``reasoning_effort``) are skipped. Missing
        keys take the defaults.
        """
        unknown = sorted(set(hp) - set(HYPERPARAMETERS))
        if unknown:
            raise ValueError(f"unknown hyperparameters {unknown}; known: {sorted(HYPERPARAMETERS)}")
        # null where the schema derives the value (learning_rate, epsilon_high): the default.
        values = {
            k: v
            for k, v in hp.items()
            if HYPERPARAMETERS[k].trains and (v is not None or HYPERPARAMETERS[k].auto is None)
        }
        for key, value in values.items():
            if value == "auto" and not _auto_is_a_choice(key):
                raise ValueError(f"hyperparameter {key} is unresolved ('auto')")
        values.setdefault("epsilon_high", values.get("epsilon", cls.epsilon))
        values["early_stopping"] = EarlyStoppingConfig(**(values.get("early_stopping") or {}))
        return cls(**values, seed=seed)


def _auto_is_a_choice(name: str) -> bool:
    """ "auto" is a value of its own for ``rollout_engine`` and ``rollout_dtype`` (decided
    where the job runs)."""
    kind = HYPERPARAMETERS[name].kind
    return isinstance(kind, Choice) and "auto" in kind.options


def hyperparameter_fields() -> set[str]:
    """The ``TrainConfig`` fields that come from a request's hyperparameters."""
    internal = {"seed", "is_cap", "micro_batch_tokens", "activation_checkpointing"}
    return {f.name for f in dataclasses.fields(TrainConfig)} - internal
