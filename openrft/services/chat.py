"""Chat completions: validate the request, resolve the model, decode, shape the answer."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from openrft.domain.messages import normalize_messages
from openrft.domain.response_format import chat_output_format
from openrft.domain.tools import ToolCall, normalize_tool_choice, normalize_tools
from openrft.errors import InvalidRequestError, OpenRFTError, ServerError
from openrft.ids import new_id
from openrft.inference.text_generation import (
    SampleResult,
    TextGeneration,
    TextRequest,
    TokenInfo,
    prepare_generation,
)
from openrft.protocol.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
    ChatCompletionRequest,
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceLogprobs,
    ChunkChoice,
    CompletionUsage,
    FunctionCall,
    TokenLogprob,
    TopLogprob,
)
from openrft.services.models import ModelService

if TYPE_CHECKING:
    from openrft.inference.text_generation import ServingPool
    from openrft.settings import Settings

log = logging.getLogger(__name__)


def build_chat_service(settings: Settings, models: ModelService) -> ChatService:
    """The chat service of a server process; its pool follows the inference settings."""

    def make_pool() -> ServingPool:
        from openrft.inference.vllm_server import choose_engine, require_vllm_python, vllm_python

        python = vllm_python(settings.vllm_python)
        if choose_engine("auto", settings.inference_engine, python) == "vllm":
            from openrft.inference.vllm_pool import VllmPool

            return VllmPool(
                settings.resolved_model_cache_dir,
                require_vllm_python(settings.vllm_python),
                settings.data_dir / "logs",
                settings.inference_threads,
            )
        from openrft.inference.pool import ModelPool

        return ModelPool(
            settings.resolved_model_cache_dir,
            adapter_budget_bytes=settings.adapter_cache_bytes,
            threads=settings.inference_threads,
        )

    return ChatService(models, make_pool)


# Request fields naming features this server does not have: 400 instead of silently ignoring.
_UNSUPPORTED = {
    "functions": "legacy function calling (use 'tools')",
    "function_call": "legacy function calling (use 'tool_choice')",
    "audio": "audio output",
    "prediction": "predicted outputs",
    "web_search_options": "web search",
}


class ChatService:
    """Owns the model pool, built on first use (importing torch and loading models is slow)."""

    def __init__(self, models: ModelService, make_pool: Callable[[], ServingPool]) -> None:
        self.models = models
        self._make_pool = make_pool
        self._pool: ServingPool | None = None
        self._pool_lock = asyncio.Lock()

    async def pool(self) -> ServingPool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncio.to_thread(self._make_pool)
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    async def start(self, project: str, model_id: str, request: TextRequest) -> TextGeneration:
        """Resolve ``model_id`` for ``project`` (404 if unknown) and prepare the decode."""
        resolved = await asyncio.to_thread(self.models.resolve, project, model_id)
        pool = await self.pool()
        return await prepare_generation(pool, resolved.base_model, resolved.adapter_dir, request)

    async def create(self, project: str, body: ChatCompletionRequest) -> ChatCompletion:
        generation = await self.start(project, body.model, to_text_request(body))
        results = await generation.run()
        return ChatCompletion(
            id=new_id("chatcmpl-"),
            created=int(time.time()),
            model=body.model,
            choices=[_choice(i, r) for i, r in enumerate(results)],
            usage=_usage(generation.prompt_tokens, results),
        )

    async def stream(self, project: str, body: ChatCompletionRequest) -> AsyncIterator[str]:
        """Validate and load first (errors are plain HTTP errors), then the SSE event stream."""
        generation = await self.start(project, body.model, to_text_request(body))
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return _sse_events(generation, body.model, include_usage)


async def _sse_events(
    generation: TextGeneration, model: str, include_usage: bool
) -> AsyncIterator[str]:
    """Role chunk per choice, content deltas, finish chunk per choice, usage chunk, [DONE]."""
    chunk_id, created = new_id("chatcmpl-"), int(time.time())

    def chunk(choices: list[ChunkChoice], usage: CompletionUsage | None = None) -> str:
        return ChatCompletionChunk(
            id=chunk_id, created=created, model=model, choices=choices, usage=usage
        ).sse()

    n = generation.request.n
    for index in range(n):
        yield chunk([ChunkChoice(index=index, delta=ChoiceDelta(role="assistant", content=""))])
    completion_tokens = 0
    calls_sent = [0] * n
    try:
        async for step in generation.stream():
            for update in step:
                completion_tokens += 1
                logprobs = _logprobs(update.tokens) if update.tokens else None
                if update.delta or logprobs:
                    delta = ChoiceDelta(content=update.delta)
                    yield chunk([ChunkChoice(index=update.index, delta=delta, logprobs=logprobs)])
                if update.tool_calls:
                    first = calls_sent[update.index]
                    calls_sent[update.index] += len(update.tool_calls)
                    delta = ChoiceDelta(tool_calls=_delta_calls(update.tool_calls, first))
                    yield chunk([ChunkChoice(index=update.index, delta=delta)])
                if update.finish_reason is not None:
                    finish = ChunkChoice(
                        index=update.index, delta=ChoiceDelta(), finish_reason=update.finish_reason
                    )
                    yield chunk([finish])
    except Exception as exc:  # headers are sent: the SDK raises on a chunk with "error"
        log.exception("chat stream failed")
        error = exc if isinstance(exc, OpenRFTError) else ServerError("Generation failed.")
        yield f"data: {json.dumps(error.to_body())}\n\n"
        return
    if include_usage:
        usage = CompletionUsage(
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=generation.prompt_tokens + completion_tokens,
        )
        yield chunk([], usage)
    yield "data: [DONE]\n\n"


def to_text_request(body: ChatCompletionRequest) -> TextRequest:
    """Check every field we cannot honour and translate the rest (400 names the field)."""
    _reject_unsupported(body)
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stop) > 4:
        raise InvalidRequestError("'stop' takes at most 4 sequences.", param="stop")
    if body.top_logprobs and not body.logprobs:
        raise InvalidRequestError("'top_logprobs' needs 'logprobs': true.", param="top_logprobs")
    tools = normalize_tools(body.tools) if body.tools is not None else []
    return TextRequest(
        messages=normalize_messages([m.model_dump(exclude_none=True) for m in body.messages]),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        n=body.n or 1,
        stop=tuple(stop),
        seed=body.seed,
        logprobs=bool(body.logprobs),
        top_logprobs=body.top_logprobs or 0,
        tools=tools,
        tool_choice=normalize_tool_choice(body.tool_choice, tools),
        parallel_tool_calls=body.parallel_tool_calls is not False,
        output_format=chat_output_format(body.response_format),
    )


def _reject_unsupported(body: ChatCompletionRequest) -> None:
    for field, feature in _UNSUPPORTED.items():
        if getattr(body, field) not in (None, [], {}):
            raise InvalidRequestError(f"{feature} is not supported by this server.", param=field)
    if body.modalities not in (None, ["text"]):
        raise InvalidRequestError("Only the 'text' modality is supported.", param="modalities")
    for field in ("presence_penalty", "frequency_penalty"):
        if getattr(body, field):
            raise InvalidRequestError(f"'{field}' is not supported (use 0).", param=field)
    if body.logit_bias:
        raise InvalidRequestError("'logit_bias' is not supported.", param="logit_bias")


def _choice(index: int, result: SampleResult) -> Choice:
    logprobs = _logprobs(result.tokens) if result.tokens is not None else None
    calls = [
        ChatCompletionMessageToolCall(
            id=c.id, function=FunctionCall(name=c.name, arguments=c.arguments)
        )
        for c in result.tool_calls
    ]
    return Choice(
        index=index,
        message=ChatCompletionMessage(
            content=result.text or (None if calls else ""), tool_calls=calls or None
        ),
        logprobs=logprobs,
        finish_reason=result.finish_reason,
    )


def _delta_calls(calls: list[ToolCall], first: int) -> list[ChoiceDeltaToolCall]:
    """Stream entries for ``calls``, numbered from ``first`` (the calls already sent)."""
    return [
        ChoiceDeltaToolCall(
            index=first + i,
            id=c.id,
            type="function",  # set explicitly: deltas are serialized without unset fields
            function=FunctionCall(name=c.name, arguments=c.arguments),
        )
        for i, c in enumerate(calls)
    ]


def _usage(prompt_tokens: int, results: list[SampleResult]) -> CompletionUsage:
    completion = sum(r.completion_tokens for r in results)
    return CompletionUsage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
        total_tokens=prompt_tokens + completion,
    )


def _logprobs(tokens: list[TokenInfo]) -> ChoiceLogprobs:
    return ChoiceLogprobs(
        content=[
            TokenLogprob(
                token=t.token,
                logprob=t.logprob,
                bytes=t.bytes,
                top_logprobs=[TopLogprob(token=s, logprob=lp, bytes=b) for s, lp, b in t.top],
            )
            for t in tokens
        ]
    )
