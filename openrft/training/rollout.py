"""Rollouts: prompt rows → token ids (chat template) → ``group_size`` sampled completions each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from openrft.inference.tokens import encode_chat
from openrft.training.data import Row


class Completion(Protocol):
    """One sampled completion (``openrft.inference.engine.Completion`` satisfies this)."""

    token_ids: list[int]
    logprobs: list[float]  # of each sampled token under softmax(logits / temperature)
    finish_reason: str  # "stop" | "length"


@dataclass(frozen=True)
class SamplingConfig:
    """How rollouts are sampled; ``seed`` makes a call reproducible. Generation stops at the
    tokenizer's end-of-turn tokens, which stay in the completion (the model learns to stop)."""

    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int


class Sampler(Protocol):
    """Samples ``n`` completions for each prompt, reusing the prompt's KV within a group."""

    def sample(
        self, prompts: list[list[int]], config: SamplingConfig, n: int
    ) -> list[list[Completion]]: ...


@dataclass(frozen=True)
class GroupRollout:
    """A prompt row and the ``G`` completions sampled for it, with decoded texts."""

    row: Row
    prompt_ids: list[int]
    completions: list[Completion]
    texts: list[str]

    @property
    def completion_tokens(self) -> int:
        return sum(len(c.token_ids) for c in self.completions)


class Codec(Protocol):
    """Turns prompt messages (and the tools they may call) into token ids and completion ids
    into text."""

    def encode_prompt(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None
    ) -> list[int]: ...

    def decode(self, token_ids: list[int]) -> str: ...


class TokenizerCodec:
    """``Codec`` over a Hugging Face tokenizer; prompts render as served (``encode_chat``)."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def encode_prompt(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None
    ) -> list[int]:
        """Ids of ``messages`` rendered for the model, ending with the assistant cue."""
        return encode_chat(self.tokenizer, messages, tools=tools)

    def decode(self, token_ids: list[int]) -> str:
        return str(self.tokenizer.decode(token_ids, skip_special_tokens=True))


def rollout(
    sampler: Sampler,
    codec: Codec,
    rows: Sequence[Row],
    prompts: Sequence[list[int]],
    config: SamplingConfig,
    n: int,
) -> list[GroupRollout]:
    """Sample ``n`` completions per prompt. rows[i] is the dataset row of prompts[i]."""
    groups = sampler.sample(list(prompts), config, n)
    return [
        GroupRollout(
            row=row,
            prompt_ids=list(prompt),
            completions=list(completions),
            texts=[codec.decode(c.token_ids) for c in completions],
        )
        for row, prompt, completions in zip(rows, prompts, groups, strict=True)
    ]


class EngineSampler:
    """``Sampler`` backed by ``openrft.inference.engine.GenerationEngine``."""

    def __init__(self, engine: Any):
        self.engine = engine

    def sample(
        self, prompts: list[list[int]], config: SamplingConfig, n: int
    ) -> list[list[Completion]]:
        from openrft.inference.engine import SamplingParams

        params = SamplingParams(
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=config.seed,
            logprobs=True,
        )
        result: list[list[Completion]] = self.engine.generate(prompts, params, n=n)
        return result
