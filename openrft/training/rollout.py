"""Rollouts: prompt rows → token ids (chat template) → ``group_size`` sampled completions each.

Single-turn rollouts generate on a worker thread and hand out each group as soon as its samples
have all ended (``on_group``), so its grading (I/O or a sandbox, no model CPU) runs while the
engine decodes the other groups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

from openrft.inference.precision import rollout_matmul_dtype
from openrft.inference.tokens import encode_chat
from openrft.threads import in_compute
from openrft.training.config import TrainConfig
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


@runtime_checkable
class StreamingSampler(Sampler, Protocol):
    """A ``Sampler`` that also reports each prompt's group the moment its samples all end."""

    def sample_streaming(
        self,
        prompts: list[list[int]],
        config: SamplingConfig,
        n: int,
        on_group: Callable[[int, list[Completion]], None],
    ) -> list[list[Completion]]:
        """``sample``, calling ``on_group(prompt index, completions)`` (sampling thread) as
        each group finishes, in finishing order."""
        ...


@runtime_checkable
class PinnedSampler(Sampler, Protocol):
    """A ``Sampler`` that holds its own copy of the trained weights, so the trainer can update
    its weights while this samples (``async_rollouts``)."""

    def pin_weights(self) -> None:
        """Copy the trainer's current weights; every sample until the next call uses them."""
        ...


@dataclass(frozen=True)
class Trajectory:
    """What a multi-turn (tool-using) rollout adds to its completion.

    The completion's ``token_ids`` are everything after the prompt: the model's turns and,
    between them, the tool results and template tokens (with log-prob 0). ``loss_mask`` is 1
    exactly at the tokens the model sampled. ``messages`` are the messages after the prompt
    (assistant turns with ``tool_calls``, ``tool`` results, the final answer), in the chat
    shape graders and Lambdas read.
    """

    loss_mask: list[int]
    messages: list[dict[str, Any]]
    tool_calls: int
    tool_errors: int
    turns: int


@dataclass(frozen=True)
class GroupRollout:
    """A prompt row and the ``G`` completions sampled for it, with decoded texts (the final
    answers); ``trajectories`` per completion for multi-turn rollouts, else None."""

    row: Row
    prompt_ids: list[int]
    completions: list[Completion]
    texts: list[str]
    trajectories: list[Trajectory] | None = None

    @property
    def completion_tokens(self) -> int:
        """Tokens the model sampled (tool results between its turns are not counted)."""
        if self.trajectories is not None:
            return sum(sum(t.loss_mask) for t in self.trajectories)
        return sum(len(c.token_ids) for c in self.completions)

    def loss_mask(self, index: int) -> list[int]:
        """1 at each token of completion ``index`` the model sampled (all, when single-turn)."""
        if self.trajectories is not None:
            return self.trajectories[index].loss_mask
        return [1] * len(self.completions[index].token_ids)


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


GroupDone = Callable[[int, GroupRollout], None]  # (index in the batch, the finished group)


class Rollouts(Protocol):
    """Turns prompt rows into rollout groups (single-turn sampling or a multi-turn loop).

    ``on_group`` is called once per group, as soon as that group is complete (any thread)."""

    async def run(
        self,
        rows: Sequence[Row],
        prompts: Sequence[list[int]],
        config: SamplingConfig,
        n: int,
        on_group: GroupDone | None = None,
    ) -> list[GroupRollout]: ...


class SingleTurn:
    """``Rollouts`` of one sampled completion per sample (``rollout``), generated on a worker
    thread so the event loop grades finished groups meanwhile."""

    def __init__(self, sampler: Sampler, codec: Codec) -> None:
        self.sampler = sampler
        self.codec = codec

    async def run(
        self,
        rows: Sequence[Row],
        prompts: Sequence[list[int]],
        config: SamplingConfig,
        n: int,
        on_group: GroupDone | None = None,
    ) -> list[GroupRollout]:
        args = (self.sampler, self.codec, rows, prompts, config, n, on_group)
        return await sampling_thread(self.sampler)(rollout, *args)


def rollout(
    sampler: Sampler,
    codec: Codec,
    rows: Sequence[Row],
    prompts: Sequence[list[int]],
    config: SamplingConfig,
    n: int,
    on_group: GroupDone | None = None,
) -> list[GroupRollout]:
    """Sample ``n`` completions per prompt. rows[i] is the dataset row of prompts[i].
    ``on_group`` gets each group when it finishes (a sampler that cannot stream: at the end)."""

    def group(index: int, completions: Sequence[Completion]) -> GroupRollout:
        return GroupRollout(
            row=rows[index],
            prompt_ids=list(prompts[index]),
            completions=list(completions),
            texts=[codec.decode(c.token_ids) for c in completions],
        )

    done: dict[int, GroupRollout] = {}

    def finished(index: int, completions: list[Completion]) -> None:
        done[index] = group(index, completions)
        if on_group is not None:
            on_group(index, done[index])

    if isinstance(sampler, StreamingSampler):
        sampler.sample_streaming(list(prompts), config, n, finished)
    else:
        for index, completions in enumerate(sampler.sample(list(prompts), config, n)):
            finished(index, completions)
    return [done[index] for index in range(len(prompts))]


def sampling_thread(sampler: Sampler) -> Callable[..., Awaitable[Any]]:
    """How to await a blocking call on ``sampler``: on the process's torch thread when it
    decodes in this process on the trainer's weights, else on a worker thread (a remote
    engine, or a pinned copy that samples while the trainer updates: ``async_rollouts``)."""
    return in_compute if getattr(sampler, "decodes_in_process", False) else asyncio.to_thread


class EngineSampler:
    """``Sampler`` backed by ``openrft.inference.engine.GenerationEngine``."""

    decodes_in_process = True

    def __init__(self, engine: Any):
        self.engine = engine

    @classmethod
    def for_job(cls, model: Any, tokenizer: Any, config: TrainConfig) -> EngineSampler:
        """A job's sampler over ``model`` (``job_engine``)."""
        return cls(job_engine(model, tokenizer, config))

    def sample(
        self, prompts: list[list[int]], config: SamplingConfig, n: int
    ) -> list[list[Completion]]:
        return self.sample_streaming(prompts, config, n, lambda index, completions: None)

    def sample_streaming(
        self,
        prompts: list[list[int]],
        config: SamplingConfig,
        n: int,
        on_group: Callable[[int, list[Completion]], None],
    ) -> list[list[Completion]]:
        """One engine batch; as ``engine.generate``, one RNG seeded with ``config.seed``
        drives every request, so streaming samples exactly what ``generate`` would."""
        from openrft.inference.engine import GenerationRequest, SamplingParams
        from openrft.inference.requests import seeded_generator

        params = SamplingParams(
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=config.seed,
            logprobs=True,
        )
        generator = seeded_generator(params.seed, self.engine.device)
        requests = [GenerationRequest(list(p), params, n, generator=generator) for p in prompts]
        for index, request in enumerate(requests):
            request.on_done = _report(on_group, index, request)
        try:
            self.engine.run(requests)
        finally:
            # A job trains between samplings: the memory of weight copies is better used there.
            self.engine.release()
        # The engine's completions satisfy the protocol (its finish_reason is a Literal).
        return [cast(list[Completion], request.completions) for request in requests]


def job_engine(model: Any, tokenizer: Any, config: TrainConfig) -> Any:
    """openrft's engine over ``model`` for a job's rollouts and evaluations: it multiplies in
    ``config.rollout_dtype`` (``openrft.inference.precision``)."""
    from openrft.inference.engine import GenerationEngine

    weight = next(model.parameters())
    dtype = rollout_matmul_dtype(config.rollout_dtype, weight.dtype, weight.device)
    return GenerationEngine(model, tokenizer, matmul_dtype=dtype)


def _report(
    on_group: Callable[[int, list[Completion]], None], index: int, request: Any
) -> Callable[[], None]:
    """``request.on_done``: hand its completions to ``on_group`` as group ``index``."""
    return lambda: on_group(index, list(request.completions))
