"""In-memory fakes of the controller's roles (unit tests of the training loop only)."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from openrft.domain.samples import RolloutSample
from openrft.graders import GradeResult, GradingRequest
from openrft.training.rollout import GroupRollout, SamplingConfig


@dataclass
class FakeCompletion:
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str = "stop"


class FakeCodec:
    """Prompt ids: one per character of the last message; text: letters of the ids."""

    def encode_prompt(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None
    ) -> list[int]:
        return [ord(ch) % 50 for ch in messages[-1]["content"]]

    def decode(self, token_ids: list[int]) -> str:
        return "".join(chr(97 + t % 26) for t in token_ids)


class FakeSampler:
    """Seeded random completions; ``bias`` (set by the fake learner) favours token 0."""

    def __init__(self) -> None:
        self.bias = 0.0
        self.calls: list[tuple[int, int]] = []  # (prompts, n)

    def sample(
        self, prompts: list[list[int]], config: SamplingConfig, n: int
    ) -> list[list[FakeCompletion]]:
        rng = random.Random(config.seed)
        self.calls.append((len(prompts), n))
        out = []
        for _ in prompts:
            group = []
            for _ in range(n):
                length = rng.randint(1, config.max_new_tokens)
                ids = [0 if rng.random() < self.bias else rng.randint(1, 25) for _ in range(length)]
                group.append(FakeCompletion(ids, [-1.0] * length))
            out.append(group)
        return out


class FakeGrader:
    """Reward = fraction of 'a' characters (token 0); ``metric`` adds grader/<name>."""

    def __init__(self, reward: Callable[[str], float] | None = None):
        self.reward = reward or (lambda text: text.count("a") / max(len(text), 1))
        self.seen: list[GradingRequest] = []

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        self.seen.extend(requests)
        return [
            GradeResult(reward=self.reward(r.output_text), metrics={"len": len(r.output_text)})
            for r in requests
        ]

    async def aclose(self) -> None:
        return None


class FakeLearner:
    """Each step raises the sampler's bias towards token 0 (a model that learns)."""

    def __init__(self, sampler: FakeSampler, lr: float = 0.1):
        self.sampler = sampler
        self.lr = lr
        self.steps = 0
        self.advantages: list[torch.Tensor] = []
        self.groups: list[list[GroupRollout]] = []

    def step(self, groups: Sequence[GroupRollout], advantages: torch.Tensor) -> dict[str, float]:
        self.steps += 1
        self.advantages.append(advantages)
        self.groups.append(list(groups))
        self.sampler.bias = min(1.0, self.sampler.bias + self.lr)
        return {
            "actor_pg_loss": 0.5,
            "actor_entropy": 1.0,
            "actor_grad_norm": 0.1,
            "actor_kl": 0.0,
            "actor_pg_clipfrac": 0.0,
        }

    def state_dict(self) -> dict[str, object]:
        return {"steps": self.steps, "bias": self.sampler.bias}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.steps = int(state["steps"])  # type: ignore[call-overload]
        self.sampler.bias = float(state["bias"])  # type: ignore[arg-type]


class FakeWeights:
    def __init__(self) -> None:
        self.loaded_from: Path | None = None

    def save(self, out_dir: Path) -> None:
        (out_dir / "adapter_model.safetensors").write_bytes(b"weights")

    def load_weights(self, src_dir: Path) -> None:
        assert (src_dir / "adapter_model.safetensors").read_bytes() == b"weights"
        self.loaded_from = src_dir


@dataclass
class FakeRuntime:
    """Records everything; ``controls`` maps a step (the one about to start) to a request."""

    root: Path
    controls: dict[int, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: dict[int, dict[str, float]] = field(default_factory=dict)
    deleted: list[int] = field(default_factory=list)
    results: dict[str, bytes] = field(default_factory=dict)
    finished: dict[str, Any] | None = None
    progress: list[tuple[int, int | None]] = field(default_factory=list)
    samples: list[RolloutSample] = field(default_factory=list)
    _polls: int = 0

    def add_event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        self.events.append({"message": message, "level": level, "type": type, "data": data})

    def control_request(self, job_id: str) -> Any:
        self._polls += 1
        return self.controls.get(self._polls)

    def add_checkpoint(
        self, job_id: str, step: int, metrics: dict[str, float], src_dir: Path
    ) -> str:
        target = self.root / f"step-{step}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(src_dir, target)
        self.checkpoints[step] = metrics
        return f"ft:base:p::{job_id}:ckpt-step-{step}"

    def delete_checkpoint(self, job_id: str, step: int) -> None:
        self.deleted.append(step)
        self.checkpoints.pop(step, None)
        shutil.rmtree(self.root / f"step-{step}", ignore_errors=True)

    def update_progress(
        self, job_id: str, *, trained_tokens: int, estimated_finish: int | None
    ) -> None:
        self.progress.append((trained_tokens, estimated_finish))

    def add_result_file(self, job_id: str, filename: str, data: bytes) -> str:
        self.results[filename] = data
        return "file-results"

    def add_samples(self, job_id: str, samples: Sequence[RolloutSample]) -> None:
        self.samples.extend(samples)

    def finish(
        self,
        job_id: str,
        status: Any,
        *,
        fine_tuned_step: int | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        self.finished = {"status": status, "fine_tuned_step": fine_tuned_step, "error": error}

    def metrics_events(self) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events if e["type"] == "metrics"]

    def messages(self) -> list[str]:
        return [e["message"] for e in self.events]
