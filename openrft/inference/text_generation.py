"""Chat messages in, text out: the protocol-free core that chat and responses serving share.

``prepare_generation`` loads the model, applies the chat template and checks the context
length; ``TextGeneration.run()`` decodes to final texts, ``TextGeneration.stream()`` yields
per-step text deltas as the engine produces them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openrft.domain.response_format import TEXT, OutputFormat
from openrft.errors import InvalidRequestError
from openrft.inference.detokenize import IncrementalText
from openrft.inference.requests import (
    Completion,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    TokenEvent,
    seeded_generator,
)
from openrft.inference.tokens import encode_chat

if TYPE_CHECKING:  # the pool pulls in torch, transformers and peft
    from openrft.inference.pool import LoadedModel, ModelPool

DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class TextRequest:
    """What to generate. ``messages``: ``{"role", "content"}`` with plain-text content;
    ``max_tokens`` None → up to ``DEFAULT_MAX_TOKENS`` within the context window;
    ``output_format``: free text, or JSON the decoder enforces."""

    messages: list[dict[str, str]]
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    output_format: OutputFormat = TEXT


@dataclass(frozen=True)
class TokenInfo:
    """A generated token as text with its log-prob and (when asked) the top alternatives."""

    token: str
    logprob: float
    bytes: list[int]
    top: list[tuple[str, float, list[int]]]


@dataclass(frozen=True)
class SampleUpdate:
    """What sample ``index`` gained in one decode step (``finish_reason`` set on its last)."""

    index: int
    delta: str
    tokens: list[TokenInfo]
    finish_reason: FinishReason | None


@dataclass(frozen=True)
class SampleResult:
    text: str
    finish_reason: FinishReason
    completion_tokens: int
    tokens: list[TokenInfo] | None


async def prepare_generation(
    pool: ModelPool, base_model: str, weights_dir: Path | None, request: TextRequest
) -> TextGeneration:
    """Load the model (once), render the prompt, check it fits, compile the output grammar;
    nothing is decoded yet."""
    loaded = await pool.get(base_model, weights_dir)
    prompt = encode_chat(loaded.tokenizer, request.messages)
    room = loaded.max_positions - len(prompt)
    if room < 1:
        raise InvalidRequestError(
            f"This model's maximum context length is {loaded.max_positions} tokens; the "
            f"messages take {len(prompt)}.",
            param="messages",
            code="context_length_exceeded",
        )
    max_new = request.max_tokens or min(DEFAULT_MAX_TOKENS, room)
    if max_new > room:
        raise InvalidRequestError(
            f"This model's maximum context length is {loaded.max_positions} tokens; the "
            f"messages take {len(prompt)} and you asked for {max_new} more.",
            param="max_completion_tokens",
            code="context_length_exceeded",
        )
    grammar = None
    if request.output_format.constrained:
        grammar = await asyncio.to_thread(loaded.grammars.compile, request.output_format)
    return TextGeneration(pool, loaded, weights_dir, request, prompt, max_new, grammar)


class TextGeneration:
    """One prepared request: ``await run()`` or ``async for updates in stream()``, once."""

    def __init__(
        self,
        pool: ModelPool,
        loaded: LoadedModel,
        weights_dir: Path | None,
        request: TextRequest,
        prompt: list[int],
        max_new_tokens: int,
        grammar: Any = None,
    ) -> None:
        self._pool, self._loaded, self._weights_dir = pool, loaded, weights_dir
        self.request = request
        self.prompt_ids = prompt
        self.prompt_tokens = len(prompt)
        tokenizer = loaded.tokenizer
        self._texts = [IncrementalText(tokenizer, request.stop) for _ in range(request.n)]
        self._special = frozenset(getattr(tokenizer, "all_special_ids", ()))
        self._engine_request = GenerationRequest(
            prompt,
            SamplingParams(
                max_new_tokens=max_new_tokens,
                temperature=request.temperature,
                top_p=request.top_p,
                seed=request.seed,
                logprobs=request.logprobs,
                top_logprobs=request.top_logprobs if request.logprobs else 0,
            ),
            n=request.n,
            generator=seeded_generator(request.seed, loaded.engine.device),
            stop_check=lambda sample, token: self._texts[sample].push(token),
            grammar=grammar,
        )

    async def run(self) -> list[SampleResult]:
        """Decode to the end; one result per sample, in order."""
        await self._pool.run(self._loaded, self._engine_request, self._weights_dir)
        return [self._result(i, c) for i, c in enumerate(self._engine_request.completions)]

    async def stream(self) -> AsyncIterator[list[SampleUpdate]]:
        """Yield each step's updates; stopping early cancels the request's decoding."""
        loop = asyncio.get_running_loop()
        updates: asyncio.Queue[list[SampleUpdate] | None] = asyncio.Queue()

        def on_step(events: list[TokenEvent]) -> None:  # engine thread
            step = [self._update(event) for event in events]
            loop.call_soon_threadsafe(updates.put_nowait, step)

        async def run_then_close() -> None:
            try:
                await self._pool.run(self._loaded, self._engine_request, self._weights_dir)
            finally:
                updates.put_nowait(None)

        self._engine_request.on_step = on_step
        task = asyncio.create_task(run_then_close())
        try:
            while (step := await updates.get()) is not None:
                yield step
            await task
        finally:
            if not task.done():
                self._engine_request.cancelled = True
                task.cancel()

    def _update(self, event: TokenEvent) -> SampleUpdate:
        text = self._texts[event.sample]
        delta = text.take_delta(final=event.finish_reason is not None)
        tokens = []
        if self.request.logprobs and event.token_id not in self._special:
            tokens = [self._token_info(event.token_id, event.logprob, event.top_logprobs or [])]
        return SampleUpdate(event.sample, delta, tokens, event.finish_reason)

    def _result(self, index: int, completion: Completion) -> SampleResult:
        tokens = None
        if self.request.logprobs:
            tops = completion.top_logprobs or [[] for _ in completion.token_ids]
            tokens = [
                self._token_info(token, logprob, top)
                for token, logprob, top in zip(
                    completion.token_ids, completion.logprobs, tops, strict=True
                )
                if token not in self._special
            ]
        return SampleResult(
            self._texts[index].text, completion.finish_reason, len(completion.token_ids), tokens
        )

    def _token_info(
        self, token_id: int, logprob: float, top: Sequence[tuple[int, float]]
    ) -> TokenInfo:
        text = self._decode(token_id)
        alternatives = [(self._decode(t), lp, list(self._decode(t).encode())) for t, lp in top]
        return TokenInfo(text, logprob, list(text.encode()), alternatives)

    def _decode(self, token_id: int) -> str:
        tokenizer: Any = self._loaded.tokenizer
        return str(tokenizer.decode([token_id]))
