"""``TrainConfig``: the resolved hyperparameters of one job, typed, as the trainer uses them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop when the validation reward has not improved by ``min_delta`` for ``patience``
    evaluations, or has reached ``target_reward`` (None: no target)."""

    patience: int = 3
    min_delta: float = 0.01
    target_reward: float | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs besides the model, data and grader.

    batch_size is prompts per step; each prompt is sampled ``group_size`` times. Token counts
    are in tokens of the model's tokenizer; learning_rate is absolute.
    """

    batch_size: int = 8
    group_size: int = 8
    n_epochs: int = 1
    learning_rate: float = 1e-4
    max_completion_tokens: int = 256
    max_prompt_tokens: int = 1024
    temperature: float = 1.0
    top_p: float = 1.0
    beta: float = 0.0
    epsilon: float = 0.2
    epsilon_high: float = 0.2
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    num_iterations: int = 1
    lora_rank: int = 16
    lora_alpha: float = 32.0
    max_steps: int | None = None
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    dtype: str = "float32"
    eval_interval: int = 10
    eval_samples: int = 1
    warmup_ratio: float = 0.0
    max_grad_norm: float | None = 1.0
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
        """Build from the job's resolved hyperparameters (no "auto" left); unknown keys
        (OpenAI fields the trainer does not use, e.g. ``reasoning_effort``) are ignored."""
        fields = set(cls.__dataclass_fields__) - {"early_stopping", "seed"}
        nullable = {"max_steps", "max_grad_norm"}
        values = {k: v for k, v in hp.items() if k in fields and (v is not None or k in nullable)}
        for key, value in values.items():
            if value == "auto":
                raise ValueError(f"hyperparameter {key} is unresolved ('auto')")
        stopping = hp.get("early_stopping") or {}
        epsilon = float(values.get("epsilon", cls.epsilon))
        values.setdefault("epsilon_high", epsilon)
        return cls(
            **values,
            seed=seed,
            early_stopping=EarlyStoppingConfig(
                patience=int(stopping.get("patience", EarlyStoppingConfig.patience)),
                min_delta=float(stopping.get("min_delta", EarlyStoppingConfig.min_delta)),
                target_reward=stopping.get("target_reward"),
            ),
        )
