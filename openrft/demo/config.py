"""Settings of one demo run; the defaults fit the whole walkthrough on 2 CPU cores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrft.demo.dataset import DEFAULT_SYSTEM_PROMPT


@dataclass(frozen=True)
class DemoConfig:
    """What ``openrft demo`` does. Sizes are rows (prompts); tokens are per completion."""

    out_dir: Path = Path("openrft-demo")
    base_url: str | None = None  # None: start a local server under out_dir
    api_key: str = "openrft-demo"  # a keyless local server accepts any key
    gsm8k_dir: Path | None = None  # None: the Hugging Face hub through `datasets`
    model: str = "SmolLM2-135M-Instruct"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT  # "" = Bedrock's user prompt only
    train_rows: int = 64
    valid_rows: int = 16
    eval_rows: int = 80
    steps: int = 8
    batch_size: int = 4
    group_size: int = 8
    max_tokens: int = 160
    learning_rate: float = 5e-4
    # Below 1.0 so more of a 135M model's samples stay coherent long enough to reach
    # '#### N': at 1.0 only ~1 in 32 did, leaving GRPO groups without reward variance.
    temperature: float = 0.7
    eval_interval: int = 4
    lora_rank: int = 16
    seed: int = 0
    concurrency: int = 32
    poll_s: float = 2.0

    def hyperparameters(self) -> dict[str, Any]:
        """``method.reinforcement.hyperparameters`` for the job."""
        return {
            "n_epochs": max(1, -(-self.steps * self.batch_size // self.train_rows)),
            "batch_size": self.batch_size,
            "group_size": self.group_size,
            "max_completion_tokens": self.max_tokens,
            "learning_rate": self.learning_rate,
            "max_steps": self.steps,
            "eval_interval": self.eval_interval,
            "lora_rank": self.lora_rank,
            "lora_alpha": 2 * self.lora_rank,
            "beta": 0.0,
            "temperature": self.temperature,
        }
