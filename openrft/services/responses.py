"""The Responses API: input items (+ instructions) in; a message and function calls out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Literal

from openrft.domain.response_format import responses_output_format
from openrft.domain.tools import normalize_tool_choice, normalize_tools
from openrft.errors import InvalidRequestError, OpenRFTError, ServerError
from openrft.ids import new_id
from openrft.inference.text_generation import SampleResult, TextGeneration, TextRequest
from openrft.protocol.responses import (
    FunctionCallItem,
    IncompleteDetails,
    OutputItem,
    OutputMessage,
    OutputText,
    Response,
    ResponseRequest,
    ResponseUsage,
)
from openrft.services.chat import ChatService
from openrft.services.response_input import input_messages
from openrft.services.response_stream import ResponseEvents

log = logging.getLogger(__name__)
Status = Literal["in_progress", "completed", "incomplete"]

_UNSUPPORTED = {
    "previous_response_id": "stored responses (previous_response_id)",
    "conversation": "conversations",
    "background": "background responses",
}


class ResponsesService:
    def __init__(self, chat: ChatService) -> None:
        self.chat = chat

    async def create(self, project: str, body: ResponseRequest) -> Response:
        generation = await self.chat.start(project, body.model, to_text_request(body))
        result = (await generation.run())[0]
        complete = result.finish_reason != "length"
        return response_object(
            body,
            new_id("resp_"),
            int(time.time()),
            output_items(result),
            complete=complete,
            usage=(generation.prompt_tokens, result.completion_tokens),
        )

    async def stream(self, project: str, body: ResponseRequest) -> AsyncIterator[str]:
        """Validate and load first (errors are plain HTTP errors), then the SSE events."""
        generation = await self.chat.start(project, body.model, to_text_request(body))
        return _sse_events(body, generation)


async def _sse_events(body: ResponseRequest, generation: TextGeneration) -> AsyncIterator[str]:
    """created, in_progress, then each output item's events as it is produced, then the final
    ``response.completed`` / ``response.incomplete``."""
    response_id, created = new_id("resp_"), int(time.time())
    events = ResponseEvents()
    running = response_object(body, response_id, created, [], complete=None, usage=None)
    yield events.event("response.created", response=running)
    yield events.event("response.in_progress", response=running)
    if not generation.request.uses_tools:
        for event in events.open_message():
            yield event
    tokens, finish = 0, "length"
    try:
        async for step in generation.stream():
            for update in step:
                tokens += 1
                finish = update.finish_reason or finish
                for event in events.content(update.delta):
                    yield event
                for call in update.tool_calls:
                    for event in events.function_call(call):
                        yield event
    except Exception as exc:  # headers are sent: report the failure as an error event
        log.exception("responses stream failed")
        error = exc if isinstance(exc, OpenRFTError) else ServerError("Generation failed.")
        yield events.event("error", code=error.code, message=error.message, param=error.param)
        return
    complete = finish != "length"
    for event in events.close(complete):
        yield event
    usage = (generation.prompt_tokens, tokens)
    final = response_object(
        body, response_id, created, events.items, complete=complete, usage=usage
    )
    yield events.event(f"response.{final.status}", response=final)


def to_text_request(body: ResponseRequest) -> TextRequest:
    """Check unsupported fields and translate instructions, input items and tools."""
    for field, feature in _UNSUPPORTED.items():
        if getattr(body, field) not in (None, [], {}, False):
            raise InvalidRequestError(f"{feature} is not supported by this server.", param=field)
    output_format = responses_output_format((body.text or {}).get("format"))
    tools = normalize_tools(body.tools) if body.tools else []
    return TextRequest(
        messages=input_messages(body.instructions, body.input),
        max_tokens=body.max_output_tokens,
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        tools=tools,
        tool_choice=normalize_tool_choice(body.tool_choice, tools),
        parallel_tool_calls=body.parallel_tool_calls is not False,
        output_format=output_format,
    )


def output_items(result: SampleResult) -> list[OutputItem]:
    """A message when there is text (or nothing else), then one item per tool call."""
    status: Status = "completed" if result.finish_reason != "length" else "incomplete"
    items: list[OutputItem] = []
    if result.text or not result.tool_calls:
        items.append(
            OutputMessage(id=new_id("msg_"), status=status, content=[OutputText(text=result.text)])
        )
    items += [
        FunctionCallItem(id=new_id("fc_"), call_id=c.id, name=c.name, arguments=c.arguments)
        for c in result.tool_calls
    ]
    return items


def response_object(
    body: ResponseRequest,
    response_id: str,
    created: int,
    output: list[OutputItem],
    *,
    complete: bool | None,
    usage: tuple[int, int] | None,
) -> Response:
    """The response: in progress while ``complete`` is None, else final with ``usage``
    (input tokens, output tokens)."""
    status: Status = (
        "in_progress" if complete is None else "completed" if complete else "incomplete"
    )
    return Response(
        id=response_id,
        created_at=created,
        status=status,
        completed_at=int(time.time()) if complete is not None else None,
        incomplete_details=IncompleteDetails(reason="max_output_tokens")
        if status == "incomplete"
        else None,
        instructions=body.instructions,
        max_output_tokens=body.max_output_tokens,
        model=body.model,
        output=output,
        parallel_tool_calls=body.parallel_tool_calls is not False,
        temperature=1.0 if body.temperature is None else body.temperature,
        tool_choice=body.tool_choice if body.tool_choice is not None else "auto",
        tools=body.tools or [],
        top_p=1.0 if body.top_p is None else body.top_p,
        usage=ResponseUsage(
            input_tokens=usage[0], output_tokens=usage[1], total_tokens=usage[0] + usage[1]
        )
        if usage is not None
        else None,
        text={"format": (body.text or {}).get("format") or {"type": "text"}},
        metadata=body.metadata or {},
    )
