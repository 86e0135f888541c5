"""Chat messages in, text out: the protocol-free core that chat and responses serving share.

``prepare_generation`` loads the model, applies the chat template and checks the context
length; ``TextGeneration.run()`` decodes to final texts, ``TextGeneration.stream()`` yields
per-step text deltas as the engine produces them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from openrft.domain.response_format import TEXT, OutputFormat
from openrft.domain.tool_format import ToolCallStream
from openrft.domain.tools import ToolCall, ToolChoice, new_call_id
from openrft.errors import InvalidRequestError
from openrft.inference.detokenize import IncrementalText
from openrft.inference.requests import (
    Completion,
    GenerationRequest,
    SamplingParams,
    TokenEvent,
    seeded_generator,
)
from openrft.inference.tokens import encode_chat

if TYPE_CHECKING:  # constraints pull in torch and llguidance
    from openrft.inference.constraints import CheckedGrammar

DEFAULT_MAX_TOKENS = 1024

FinishReason = Literal["stop", "length", "tool_calls"]


class ServingPool(Protocol):
    """Where models are served: openrft's ``ModelPool`` or ``VllmPool``. ``get`` returns a
    loaded model with ``tokenizer``, ``max_positions`` and ``engine`` (with ``device``,
    ``vocab_size`` and ``default_stop_ids``: what grammars are checked against)."""

    async def get(self, base_model: str, weights_dir: Path | None = None) -> Any: ...

    async def run(self, loaded: Any, request: GenerationRequest, weights_dir: Path | None) -> None:
        """Decode ``request``, filling its completions."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TextRequest:
    """What to generate. ``messages``: normalized chat messages (``normalize_messages``);
    ``max_tokens`` None → up to ``DEFAULT_MAX_TOKENS`` within the context window.

    ``tools``: normalized function tools, rendered into the prompt and parsed back out of the
    samples unless ``tool_choice`` is ``none`` (then the model sees no tools). ``required`` and
    a named function constrain decoding to calls; ``parallel_tool_calls`` False keeps one.
    ``output_format``: free text, or JSON that decoding enforces (when no call is forced).
    """

    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: ToolChoice = field(default_factory=lambda: ToolChoice("none"))
    parallel_tool_calls: bool = True
    output_format: OutputFormat = TEXT

    @property
    def uses_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice.mode != "none"


@dataclass(frozen=True)
class TokenInfo:
    """A generated token as text with its log-prob and (when asked) the top alternatives."""

    token: str
    logprob: float
    bytes: list[int]
    top: list[tuple[str, float, list[int]]]


@dataclass(frozen=True)
class SampleUpdate:
    """What sample ``index`` gained in one decode step (``finish_reason`` set on its last):
    content text and the tool calls completed in this step."""

    index: int
    delta: str
    tokens: list[TokenInfo]
    finish_reason: FinishReason | None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class SampleResult:
    """``text``: the content (the text outside tool calls when the request uses tools)."""

    text: str
    finish_reason: FinishReason
    completion_tokens: int
    tokens: list[TokenInfo] | None
    tool_calls: list[ToolCall] = field(default_factory=list)


async def prepare_generation(
    pool: ServingPool, base_model: str, weights_dir: Path | None, request: TextRequest
) -> TextGeneration:
    """Load the model (once), render the prompt, check it fits; nothing is decoded yet."""
    loaded = await pool.get(base_model, weights_dir)
    tools = request.tools if request.uses_tools else None
    prompt = encode_chat(loaded.tokenizer, request.messages, tools=tools)
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
    constraint = None
    if request.tool_choice.forces_call:
        constraint = await asyncio.to_thread(_forced_calls, loaded, request)
    elif request.output_format.constrained:
        constraint = await asyncio.to_thread(_json_output, loaded, request.output_format)
    return TextGeneration(pool, loaded, weights_dir, request, prompt, max_new, constraint)


def _forced_calls(loaded: Any, request: TextRequest) -> CheckedGrammar:
    """Per-sample constraints that allow only tool calls (``required`` / a named function)."""
    from openrft.inference.constraints import grammars_for, tool_call_grammar

    engine = loaded.engine
    grammars = grammars_for(loaded.tokenizer, engine.vocab_size, sorted(engine.default_stop_ids))
    grammar = tool_call_grammar(
        request.tools, request.tool_choice, parallel=request.parallel_tool_calls
    )
    return grammars.constraint(grammar)


def _json_output(loaded: Any, output_format: OutputFormat) -> CheckedGrammar:
    """Per-sample constraints to JSON following the format's schema; a 400 naming the schema
    field when llguidance cannot enforce it."""
    from openrft.inference.constraints import grammars_for, json_grammar

    engine = loaded.engine
    grammars = grammars_for(loaded.tokenizer, engine.vocab_size, sorted(engine.default_stop_ids))
    try:
        return grammars.constraint(json_grammar(output_format.schema or {}))
    except ValueError as exc:
        raise InvalidRequestError(
            f"The JSON schema cannot be enforced: {_schema_error(str(exc))}",
            param=output_format.param,
        ) from exc


def _schema_error(message: str) -> str:
    """llguidance's reason, without the grammar source it quotes after it."""
    reason = message.partition("failed to compile JSON schema: ")[2] or message
    lines = [line.strip() for line in reason.splitlines()]
    kept = [line for line in lines if line and not line[0].isdigit()]
    return " ".join(kept)[:300]


class TextGeneration:
    """One prepared request: ``await run()`` or ``async for updates in stream()``, once."""

    def __init__(
        self,
        pool: ServingPool,
        loaded: Any,
        weights_dir: Path | None,
        request: TextRequest,
        prompt: list[int],
        max_new_tokens: int,
        constraint: CheckedGrammar | None = None,
    ) -> None:
        self._pool, self._loaded, self._weights_dir = pool, loaded, weights_dir
        self.request = request
        self.prompt_ids = prompt
        self.prompt_tokens = len(prompt)
        tokenizer = loaded.tokenizer
        self._texts = [IncrementalText(tokenizer, request.stop) for _ in range(request.n)]
        self._calls = [_CallSplitter(request) for _ in range(request.n)]
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
            constraint=constraint,
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
        final = event.finish_reason is not None
        delta = self._texts[event.sample].take_delta(final=final)
        splitter = self._calls[event.sample]
        content, calls = splitter.feed(delta, final=final)
        tokens = []
        if self.request.logprobs and event.token_id not in self._special:
            tokens = [self._token_info(event.token_id, event.logprob, event.top_logprobs or [])]
        finish = splitter.finish_reason(event.finish_reason) if final else None
        return SampleUpdate(event.sample, content, tokens, finish, calls)

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
        splitter = self._calls[index]
        _, calls = splitter.feed(self._texts[index].text, final=True)
        return SampleResult(
            splitter.content,
            splitter.finish_reason(completion.finish_reason),
            len(completion.token_ids),
            tokens,
            calls,
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


class _CallSplitter:
    """One sample's text split into content and tool calls (when the request uses tools)."""

    def __init__(self, request: TextRequest) -> None:
        self._stream = ToolCallStream() if request.uses_tools else None
        self._keep = None if request.parallel_tool_calls else 1
        self._seen = 0
        self.calls: list[ToolCall] = []
        self.content = ""

    def feed(self, text: str, *, final: bool) -> tuple[str, list[ToolCall]]:
        """(content to show, calls completed) for ``text`` appended to the sample."""
        if self._stream is None:
            self.content += text
            return text, []
        content = self._stream.feed(text) + (self._stream.finish() if final else "")
        self.content += content
        parsed = self._stream.calls[self._seen :]
        self._seen = len(self._stream.calls)
        if self._keep is not None:  # parallel_tool_calls false: calls after the first dropped
            parsed = parsed[: max(0, self._keep - len(self.calls))]
        new = [ToolCall(new_call_id(), c.name, c.arguments) for c in parsed]
        self.calls += new
        if final and self.calls:
            self.content = self.content.strip()
        return content, new

    def finish_reason(self, engine_reason: str | None) -> FinishReason:
        if engine_reason == "stop" and self.calls:
            return "tool_calls"
        return "length" if engine_reason == "length" else "stop"
