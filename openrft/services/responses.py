"""The Responses API for plain text: input (+ instructions) in, one assistant message out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from openrft.domain.messages import normalize_message
from openrft.domain.response_format import responses_output_format
from openrft.errors import InvalidRequestError, OpenRFTError, ServerError
from openrft.ids import new_id
from openrft.inference.text_generation import TextGeneration, TextRequest
from openrft.protocol.responses import (
    IncompleteDetails,
    OutputMessage,
    OutputText,
    Response,
    ResponseRequest,
    ResponseUsage,
    sse_event,
)
from openrft.services.chat import ChatService

log = logging.getLogger(__name__)

_UNSUPPORTED = {
    "tools": "tools",
    "tool_choice": "tool choice",
    "previous_response_id": "stored responses (previous_response_id)",
    "conversation": "conversations",
    "background": "background responses",
}
_TEXT_PART_TYPES = ("input_text", "output_text", "text")


class ResponsesService:
    def __init__(self, chat: ChatService) -> None:
        self.chat = chat

    async def create(self, project: str, body: ResponseRequest) -> Response:
        generation = await self.chat.start(project, body.model, to_text_request(body))
        result = (await generation.run())[0]
        message = OutputMessage(
            id=new_id("msg_"),
            status="completed" if result.finish_reason == "stop" else "incomplete",
            content=[OutputText(text=result.text)],
        )
        return _response(
            body,
            new_id("resp_"),
            int(time.time()),
            message,
            result.completion_tokens,
            generation.prompt_tokens,
        )

    async def stream(self, project: str, body: ResponseRequest) -> AsyncIterator[str]:
        """Validate and load first (errors are plain HTTP errors), then the SSE events."""
        generation = await self.chat.start(project, body.model, to_text_request(body))
        return _sse_events(body, generation)


async def _sse_events(body: ResponseRequest, generation: TextGeneration) -> AsyncIterator[str]:
    """created, in_progress, item/part added, text deltas, text/part/item done, completed."""
    response_id, created, item_id = new_id("resp_"), int(time.time()), new_id("msg_")
    seq = iter(range(1_000_000_000))
    running = _response(body, response_id, created, None, 0, 0)
    yield sse_event("response.created", next(seq), response=running)
    yield sse_event("response.in_progress", next(seq), response=running)
    item = OutputMessage(id=item_id, status="in_progress", content=[])
    yield sse_event("response.output_item.added", next(seq), output_index=0, item=item)
    where: dict[str, Any] = {"item_id": item_id, "output_index": 0, "content_index": 0}
    yield sse_event("response.content_part.added", next(seq), **where, part=OutputText(text=""))
    text, tokens, finish = "", 0, "length"
    try:
        async for step in generation.stream():
            for update in step:
                tokens += 1
                finish = update.finish_reason or finish
                if update.delta:
                    text += update.delta
                    yield sse_event(
                        "response.output_text.delta",
                        next(seq),
                        **where,
                        delta=update.delta,
                        logprobs=[],
                    )
    except Exception as exc:  # headers are sent: report the failure as an error event
        log.exception("responses stream failed")
        error = exc if isinstance(exc, OpenRFTError) else ServerError("Generation failed.")
        yield sse_event(
            "error", next(seq), code=error.code, message=error.message, param=error.param
        )
        return
    part = OutputText(text=text)
    yield sse_event("response.output_text.done", next(seq), **where, text=text, logprobs=[])
    yield sse_event("response.content_part.done", next(seq), **where, part=part)
    item = OutputMessage(
        id=item_id, status="completed" if finish == "stop" else "incomplete", content=[part]
    )
    yield sse_event("response.output_item.done", next(seq), output_index=0, item=item)
    final = _response(body, response_id, created, item, tokens, generation.prompt_tokens)
    yield sse_event(f"response.{final.status}", next(seq), response=final)


def to_text_request(body: ResponseRequest) -> TextRequest:
    """Check unsupported fields and flatten ``instructions`` + ``input`` to chat messages."""
    for field, feature in _UNSUPPORTED.items():
        if getattr(body, field) not in (None, [], {}, False):
            raise InvalidRequestError(f"{feature} is not supported by this server.", param=field)
    output_format = responses_output_format((body.text or {}).get("format"))
    messages = [{"role": "system", "content": body.instructions}] if body.instructions else []
    if isinstance(body.input, str):
        messages.append({"role": "user", "content": body.input})
    else:
        messages += [_input_message(i, item) for i, item in enumerate(body.input)]
    if not messages:
        raise InvalidRequestError("'input' must not be empty.", param="input")
    return TextRequest(
        messages=messages,
        max_tokens=body.max_output_tokens,
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        output_format=output_format,
    )


def _input_message(index: int, item: dict[str, Any]) -> dict[str, str]:
    """A message input item as a chat message, under the rules of ``normalize_message``."""
    param = f"input.{index}"
    if item.get("type", "message") != "message":
        raise InvalidRequestError("Only message items with a text role are supported.", param=param)
    if not isinstance(item.get("content"), str | list):
        raise InvalidRequestError("Message content must be a string or text parts.", param=param)
    return normalize_message(item, param=param, text_types=_TEXT_PART_TYPES)


def _response(
    body: ResponseRequest,
    response_id: str,
    created: int,
    message: OutputMessage | None,
    output_tokens: int,
    input_tokens: int,
) -> Response:
    """The response object: in progress while ``message`` is None, else final with usage."""
    status = "in_progress" if message is None else message.status
    return Response(
        id=response_id,
        created_at=created,
        status=status,
        completed_at=int(time.time()) if message is not None else None,
        incomplete_details=IncompleteDetails(reason="max_output_tokens")
        if status == "incomplete"
        else None,
        instructions=body.instructions,
        max_output_tokens=body.max_output_tokens,
        model=body.model,
        output=[message] if message is not None else [],
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        usage=ResponseUsage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )
        if message is not None
        else None,
        text={"format": (body.text or {}).get("format") or {"type": "text"}},
        metadata=body.metadata or {},
    )
